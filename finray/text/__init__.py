"""Korean text processing shared by question understanding and keyword search."""
