"""Amounts are parsed strictly into integer fen."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.money import MAX_FEN, AmountError, format_fen, parse_amount


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("12.34", 1234),
        ("0.01", 1),
        ("12", 1200),
        ("12.3", 1230),
        (Decimal("0.10"), 10),
        (7, 700),
        ("100000000", MAX_FEN),
    ],
)
def test_good_amounts(value, fen):
    assert parse_amount(value) == fen


@pytest.mark.parametrize(
    "value",
    [
        "12.345",
        "0",
        "0.00",
        "-1",
        "+1",
        "1e2",
        " 1",
        "1,00",
        "",
        None,
        1.5,
        True,
        "100000000.01",
        "00.10",
        Decimal("1E+2"),
    ],
)
def test_bad_amounts(value):
    with pytest.raises(AmountError):
        parse_amount(value)


@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_format_and_parse_round_trip(fen):
    assert parse_amount(format_fen(fen)) == fen
