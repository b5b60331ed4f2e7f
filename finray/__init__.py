"""finray: the shared domain library (settings, products, users, embeddings, stores, retrieval).

Everything here imports without starting Ray; data jobs and Serve apps build on it.
"""

__version__ = "0.1.0"
