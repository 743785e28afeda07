"""Tables of merchants' follow-up messages and who received them.

A follow-up is written once per merchant draft (``key`` is unique, so a
double tap on Send sends once); each recipient gets a delivery row, which is
what the weekly per-buyer cap counts.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime


class Followup(SQLModel, table=True):
    """One message a merchant sent to their followers."""

    __tablename__ = "followups"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100, unique=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    text: str = Field(max_length=1000)
    recipients: int = 0
    created_at: dt.datetime = Field(sa_type=UTCDateTime)  # type: ignore[call-overload]


class FollowupDelivery(SQLModel, table=True):
    """A follow-up queued for one buyer: counted against the weekly cap."""

    __tablename__ = "followup_deliveries"
    __table_args__ = (Index("ix_followup_deliveries_cap", "merchant_id", "buyer_id", "created_at"),)

    followup_id: int = Field(foreign_key="followups.id", primary_key=True)
    buyer_id: int = Field(sa_type=BigInteger, foreign_key="users.id", primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id")
    created_at: dt.datetime = Field(sa_type=UTCDateTime)  # type: ignore[call-overload]
