"""Storage: SQLModel tables, the async engine and the unit of work.

The schema is created and changed only by the Alembic migrations in
``bot/store/migrations``; ``shopbot db upgrade`` runs them.
"""

from bot.store import console as _console  # noqa: F401  (admin console tables)
from bot.store import followups, ledger, models  # noqa: F401  (register every table on the metadata)
from bot.store import settlement as _settlement  # noqa: F401  (scheduler tables)
from bot.store import wallet as _wallet  # noqa: F401  (wallet tables)
from bot.store.db import Database, make_engine

__all__ = ["Database", "make_engine"]
