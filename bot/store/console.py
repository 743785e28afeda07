"""Tables of the admin web console: its operators and the audit trail of what they did.

Operators are not Telegram users: they sign in to the web console with a
name and a password, of which only an Argon2 hash is kept. Failed sign-ins
are counted on the operator's row and a run of them locks the name for a
while (``locked_until``), so the lockout holds across restarts and across
several bot workers. Every sign-in (ok or refused) and every action is an
``ConsoleAudit`` row, written in the same transaction as the action itself.
"""

from __future__ import annotations

import datetime as dt

from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


class ConsoleOperator(SQLModel, table=True):
    """Someone who may sign in to the console (``shopbot console-user add NAME``)."""

    __tablename__ = "console_operators"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=256)
    failed_logins: int = 0  # in a row, since the last good sign-in or lockout
    locked_until: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(sa_type=UTCDateTime)
    last_login_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class ConsoleAudit(SQLModel, table=True):
    """One sign-in or action in the console: who, when, what, on what, and how it ended."""

    __tablename__ = "console_audit"

    id: int | None = Field(default=None, primary_key=True)
    at: dt.datetime = Field(sa_type=UTCDateTime, index=True)
    operator: str = Field(max_length=64)  # the name typed, for a refused sign-in too
    action: str = Field(max_length=32)  # login, login_failed, login_locked, approve, suspend, …
    target: str = Field(default="", max_length=64)  # merchant:7, refund:3
    outcome: str = Field(default="ok", max_length=300)  # ok, or why it was refused
    detail: str = Field(default="", max_length=300)  # the reason typed, for a rejection or suspension
