"""A tiny SQLite file that keeps the sandbox's world between runs.

Each row is a JSON document keyed by kind and id: users, chats, messages,
files and a few counters. Plain ``sqlite3`` with autocommit is enough for
one process serving one developer; ``make demo`` run twice shows the same
chat history. ``None`` as path keeps nothing (tests).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (kind, key)
)
"""


class Persistence:
    """Key-value JSON rows in one table; a no-op when built without a path."""

    def __init__(self, path: Path | None) -> None:
        self._db: sqlite3.Connection | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(SCHEMA)

    def put(self, kind: str, key: object, value: Any) -> None:
        """Insert or replace one document (keeps its original row order)."""
        if self._db is not None:
            self._db.execute(
                "INSERT INTO docs (kind, key, value) VALUES (?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                (kind, str(key), json.dumps(value, ensure_ascii=False)),
            )

    def load(self, kind: str) -> Iterator[tuple[str, Any]]:
        """Every stored (key, value) of one kind, in insertion order."""
        if self._db is None:
            return iter(())
        rows = self._db.execute("SELECT key, value FROM docs WHERE kind = ? ORDER BY rowid",
                                (kind,)).fetchall()
        return ((key, json.loads(value)) for key, value in rows)

    def close(self) -> None:
        """Close the database file."""
        if self._db is not None:
            self._db.close()
            self._db = None
