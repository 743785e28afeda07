"""Column types and naming conventions shared by every table."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

# Named constraints, so that Alembic migrations can address them on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database.

    SQLite has no time zones and PostgreSQL's ``timestamptz`` would convert on
    read; storing naive UTC everywhere keeps both databases identical.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def bind_processor(self, dialect: Any) -> Any:
        """The conversion, remembered for the last few values: a batch binds the same instant many times.

        A flash sale's Buy batch writes hundreds of rows stamped with one
        ``now``; converting it (and SQLite's formatting of it as text) once
        per row was a seventh of the batch's time.
        """
        process = super().bind_processor(dialect)
        return functools.lru_cache(maxsize=16)(process) if process is not None else None

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)
