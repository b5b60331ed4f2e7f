"""Advice logic on top of retrieval: constraints, objectives, computed figures."""
