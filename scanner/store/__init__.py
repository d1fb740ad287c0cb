"""Storage: SQLAlchemy 2 tables, migrations, and the stores built on them."""

from .db import Database, open_database

__all__ = ["Database", "open_database"]
