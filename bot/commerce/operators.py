"""Operators of the admin web console: accounts, sign-in with lockout, and the audit trail.

Invariants:

- Only an Argon2 hash of a password is stored (``argon2-cffi``'s
  ``PasswordHasher``, its recommended parameters); a hash made with older
  parameters is replaced at the next good sign-in.
- ``max_failed`` wrong passwords in a row lock the name for ``lockout``: while
  locked even the right password is refused. The count and the lock are
  columns of the operator's row, so they hold across restarts and workers.
- Every sign-in, good or refused, and every action is one ``ConsoleAudit``
  row. An action's row is written in the action's own transaction; a refused
  action's row in a transaction of its own (the action's was rolled back).

Hashing takes tens of milliseconds of CPU on purpose: callers run
``check_password`` outside any transaction and off the event loop.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commerce.errors import InvalidInput
from bot.store.console import ConsoleAudit, ConsoleOperator

NAME = re.compile(r"[A-Za-z0-9_.-]{2,64}")
MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 256
_hasher = PasswordHasher()
# Checked when the name is unknown, so a refusal takes as long whether or not the name exists.
_DUMMY_HASH = _hasher.hash("not-a-password-anyone-has")
operators = ConsoleOperator.__table__


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password``, refused when too short or too long."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise InvalidInput("password", "length", min=MIN_PASSWORD_CHARS, max=MAX_PASSWORD_CHARS)
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches the hash (a missing hash never matches, in the same time)."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password[:MAX_PASSWORD_CHARS]) and \
            password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with parameters weaker than today's."""
    return _hasher.check_needs_rehash(password_hash)


async def add_operator(session: AsyncSession, *, name: str, password_hash: str,
                       now: dt.datetime) -> ConsoleOperator:
    """A new operator; a name already taken is refused."""
    if not NAME.fullmatch(name):
        raise InvalidInput("name", "format")
    operator = ConsoleOperator(name=name, password_hash=password_hash, created_at=now)
    try:
        async with session.begin_nested():
            session.add(operator)
            await session.flush()
    except IntegrityError as exc:  # the unique name
        raise InvalidInput("name", "taken") from exc
    return operator


async def set_password(session: AsyncSession, *, name: str, password_hash: str) -> bool:
    """Replace an operator's password (and lift a lockout); False when there is no such operator."""
    moved = await session.execute(update(operators).where(operators.c.name == name).values(
        password_hash=password_hash, failed_logins=0, locked_until=None))
    return moved.rowcount == 1


async def find_operator(session: AsyncSession, name: str) -> ConsoleOperator | None:
    """The operator of this name, or None."""
    return await session.scalar(select(ConsoleOperator).where(ConsoleOperator.name == name[:64]))


@dataclass(frozen=True)
class SignIn:
    """How a sign-in ended: ``ok``, or refused (``locked_until`` set while the name is locked)."""

    ok: bool
    operator_id: int | None = None
    locked_until: dt.datetime | None = None


async def record_sign_in(
    session: AsyncSession, *, name: str, password_ok: bool, now: dt.datetime, max_failed: int,
    lockout: dt.timedelta, new_hash: str | None = None,
) -> SignIn:
    """Count a sign-in whose password was checked: reset on success, lock after ``max_failed`` misses.

    A locked name is refused whatever the password; the lock is checked here, in
    the transaction that counts, so two tries at once cannot both slip past it.
    """
    operator = await find_operator(session, name)
    if operator is not None and operator.locked_until is not None and operator.locked_until > now:
        await audit(session, operator=name, action="login_locked", now=now,
                    outcome=f"locked until {operator.locked_until.isoformat()}")
        return SignIn(ok=False, locked_until=operator.locked_until)
    if operator is None or not password_ok:
        locked_until = None
        if operator is not None:
            failed = operator.failed_logins + 1
            locked_until = now + lockout if failed >= max_failed else None
            await session.execute(update(operators).where(operators.c.id == operator.id).values(
                failed_logins=0 if locked_until else failed, locked_until=locked_until))
        outcome = f"wrong password; locked until {locked_until.isoformat()}" if locked_until else \
            "unknown name" if operator is None else "wrong password"
        await audit(session, operator=name, action="login_failed", now=now, outcome=outcome)
        return SignIn(ok=False, locked_until=locked_until)
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if new_hash:
        values["password_hash"] = new_hash
    await session.execute(update(operators).where(operators.c.id == operator.id).values(**values))
    await audit(session, operator=name, action="login", now=now)
    return SignIn(ok=True, operator_id=operator.id)


async def audit(session: AsyncSession, *, operator: str, action: str, now: dt.datetime, target: str = "",
                outcome: str = "ok", detail: str = "") -> None:
    """Record one console sign-in or action (in the caller's transaction)."""
    session.add(ConsoleAudit(at=now, operator=operator[:64], action=action[:32], target=target[:64],
                             outcome=outcome[:300], detail=detail[:300]))
    await session.flush()
