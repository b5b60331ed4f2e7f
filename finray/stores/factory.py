"""Pick the store backend from settings: LanceDB on disk (default) or MongoDB Atlas."""

from __future__ import annotations

from finray.config import Settings
from finray.stores.base import Store


def open_store(settings: Settings) -> Store:
    """Open the configured store; backends import lazily so a deploy needs only its own driver."""
    if settings.store == "mongo":
        from finray.stores.mongo import MongoStore

        return MongoStore(settings.mongodb_uri, settings.mongodb_db)
    from finray.stores.lance import LanceStore

    return LanceStore(settings.lance_dir)
