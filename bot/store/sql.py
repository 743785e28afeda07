"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """``sqlite`` or ``postgresql``: the database behind ``session``."""
    return session.get_bind().dialect.name


def insert_ignore(session: AsyncSession, table: Table, **conflict: Any) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for ``table``, in the session's dialect.

    With no ``conflict`` arguments any unique constraint suppresses the row;
    ``index_elements``/``index_where`` name one (a partial index needs both).
    """
    module = postgresql if dialect_of(session) == "postgresql" else sqlite
    return module.insert(table).on_conflict_do_nothing(**conflict)
