"""The billers' books in a database, so a restart loses no bill.

Two tables (SQLAlchemy Core, created with ``create_all`` like the gateway's:
another company's system, no migrations):

* ``bl_requests``: every payment request by its caller's ``request_id``
  (unique), with the content it came with and the answer given, which every
  repeat of the request answers again;
* ``bl_paid_bills``: the utility bills already paid, so a paid account owes
  nothing until the next bill.

Served inside the gateway they live in the gateway's database; a biller
served alone (tests) keeps them in a private in-memory SQLite database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

metadata = MetaData()

requests = Table(
    "bl_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(64), nullable=False, unique=True),
    Column("content", Text, nullable=False),  # JSON: biller, account, amount as the caller sent them
    Column("status", String(16), nullable=False),  # accepted | declined | voided
    Column("answer", Text, nullable=False),  # JSON, answered again to every repeat
)

paid_bills = Table(
    "bl_paid_bills",
    metadata,
    Column("biller", String(32), primary_key=True),
    Column("account", String(64), primary_key=True),
)


@dataclass(frozen=True)
class Seen:
    """A request as first recorded."""

    content: dict[str, Any]
    status: str
    answer: dict[str, Any]


def memory_engine() -> AsyncEngine:
    """A private in-memory SQLite database (one connection shared, so it lives as long as the engine)."""
    return create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)


async def create_tables(engine: AsyncEngine) -> None:
    """Create the billers' tables if they are missing."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def seen(conn: AsyncConnection, request_id: str) -> Seen | None:
    """The request recorded under ``request_id``, if any."""
    row = (await conn.execute(select(requests).where(requests.c.request_id == request_id))).first()
    if row is None:
        return None
    return Seen(json.loads(row.content), row.status, json.loads(row.answer))


async def record(conn: AsyncConnection, request_id: str, content: dict[str, Any],
                 answer: dict[str, Any]) -> dict[str, Any]:
    """Store a new request's answer; an accepted one gets its receipt number from its row id."""
    inserted = await conn.execute(insert(requests).values(
        request_id=request_id, content=json.dumps(content), status=answer["status"],
        answer=json.dumps(answer)))
    if answer["status"] == "accepted":
        answer = {**answer, "receipt": f"R{inserted.inserted_primary_key[0]:010d}"}
        await conn.execute(update(requests).where(requests.c.request_id == request_id)
                           .values(answer=json.dumps(answer)))
    return answer


async def replace(conn: AsyncConnection, request_id: str, content: dict[str, Any],
                  answer: dict[str, Any]) -> None:
    """Record ``answer`` as the request's final word (a void), whether it was seen before or not."""
    values = {"content": json.dumps(content), "status": answer["status"], "answer": json.dumps(answer)}
    done = await conn.execute(update(requests).where(requests.c.request_id == request_id).values(**values))
    if done.rowcount == 0:
        await conn.execute(insert(requests).values(request_id=request_id, **values))


async def is_paid(conn: AsyncConnection, biller: str, account: str) -> bool:
    """True once the account's current bill is paid."""
    query = select(paid_bills).where(paid_bills.c.biller == biller, paid_bills.c.account == account)
    return (await conn.execute(query)).first() is not None


async def mark_paid(conn: AsyncConnection, biller: str, account: str, paid: bool) -> None:
    """Mark the account's bill paid (an accepted payment) or owed again (its payment voided)."""
    await conn.execute(delete(paid_bills).where(paid_bills.c.biller == biller,
                                                paid_bills.c.account == account))
    if paid:
        await conn.execute(insert(paid_bills).values(biller=biller, account=account))


async def request_count(engine: AsyncEngine) -> int:
    """How many payment requests the billers have seen (tests)."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(requests))).scalar_one())
