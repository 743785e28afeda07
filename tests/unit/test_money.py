"""Amounts and counts typed by people: exact fen, or a refusal naming the rule.

Decided: "12." and ".5" are refused (``not_a_number``) — a cashier's till
wants a digit on both sides of the point, and refusing costs the user one
retype while guessing could cost money. What a message shows must be what
we read: invisible format characters (zero-width, right-to-left marks) and
digits of other scripts are refused, never silently dropped or converted.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.commerce.errors import InvalidInput
from bot.commerce.money import check_amount, check_count, clean_text, parse_amount, parse_count

MAX = 10_000_000_00  # ¥10,000,000.00, the default ceiling


def refusal(text: str, **kw: int) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_amount(text, max_fen=kw.get("max_fen", MAX))
    assert caught.value.field == "price"
    return caught.value.rule


@pytest.mark.parametrize(
    ("typed", "fen"),
    [
        ("12", 1200),
        ("12.5", 1250),
        ("12.50", 1250),
        ("0.01", 1),
        ("¥1,299.00", 129900),
        ("￥1,299", 129900),
        ("1,299", 129900),
        ("１２３", 12300),
        ("１２．５", 1250),
        (" 12 ", 1200),
        ("12元", 1200),
        ("CNY 12.5", 1250),
        ("RMB12", 1200),
        ("\u00a012\n", 1200),
        ("00012", 1200),
        ("1,000,000.99", 100000099),
    ],
)
def test_what_a_cashier_accepts_is_read_to_the_exact_fen(typed, fen):
    assert parse_amount(typed, max_fen=MAX) == fen


@pytest.mark.parametrize(
    ("typed", "rule"),
    [
        ("-5", "negative"),
        ("－5", "negative"),
        ("1e9", "not_a_number"),
        ("12.345", "too_many_decimals"),
        ("0", "not_positive"),
        ("0.00", "not_positive"),
        ("1,2,3", "not_a_number"),
        ("1,29", "not_a_number"),
        ("", "not_a_number"),
        ("   ", "not_a_number"),
        ("abc", "not_a_number"),
        ("12.", "not_a_number"),
        (".5", "not_a_number"),
        ("+5", "not_a_number"),
        ("1 2", "not_a_number"),
        ("1_000", "not_a_number"),
        ("12😀", "not_a_number"),
        ("😀", "not_a_number"),
        ("NaN", "not_a_number"),
        ("inf", "not_a_number"),
        ("1CNY2", "not_a_number"),
        ("12RMB34", "not_a_number"),
    ],
)
def test_what_a_cashier_refuses_names_the_rule(typed, rule):
    assert refusal(typed) == rule


@pytest.mark.parametrize(
    "typed",
    [
        "1\u200b2",  # zero-width space between the digits
        "\u200b12",
        "12\u200d",  # zero-width joiner
        "\ufeff12",  # byte-order mark
        "\u200f12",  # right-to-left mark
        "\u202e21",  # right-to-left override: shows as "12", reads as 21
        "12\u2066",  # left-to-right isolate
    ],
)
def test_invisible_characters_are_refused_not_dropped(typed):
    assert refusal(typed) == "control_characters"


@pytest.mark.parametrize("typed", ["٣", "৪", "߁", "1٣", "१२"])
def test_digits_of_other_scripts_are_refused(typed):
    # Bengali "৪" looks like 8 and means 4: only ASCII (and full-width) digits are read.
    assert refusal(typed) == "not_a_number"


def test_amounts_over_the_ceiling_are_too_large_with_the_ceiling_named():
    with pytest.raises(InvalidInput) as caught:
        parse_amount("10000000.01", max_fen=MAX)
    assert caught.value.rule == "too_large" and caught.value.params["max_fen"] == MAX
    assert parse_amount("10,000,000.00", max_fen=MAX) == MAX


@pytest.mark.parametrize("typed", ["9" * 13, "9" * 5000, "1" + ",000" * 20, "9" * 200 + ".99"])
def test_huge_numbers_are_too_large_not_a_crash(typed):
    assert refusal(typed) == "too_large"


def test_the_field_name_travels_with_the_refusal():
    with pytest.raises(InvalidInput) as caught:
        parse_amount("abc", field="refund_amount", max_fen=MAX)
    assert caught.value.field == "refund_amount"


@given(st.text(max_size=40))
def test_any_text_is_a_valid_amount_or_an_invalid_input(text):
    try:
        fen = parse_amount(text, max_fen=MAX)
    except InvalidInput as refused:
        assert refused.field == "price" and refused.rule
    else:
        assert isinstance(fen, int) and 0 < fen <= MAX


@given(st.from_regex(r"\A[0-9]{1,6}(\.[0-9]{1,2})?\Z"))
def test_plain_yuan_amounts_round_trip_exactly(text):
    whole, _, frac = text.partition(".")
    expected = int(whole) * 100 + int(frac.ljust(2, "0") or 0)
    if expected == 0:
        assert refusal(text) == "not_positive"
    else:
        assert parse_amount(text, max_fen=MAX) == expected


def test_check_amount_bounds():
    assert check_amount(1, max_fen=5) == 1 and check_amount(5, max_fen=5) == 5
    for fen, rule in ((0, "not_positive"), (-1, "not_positive"), (6, "too_large")):
        with pytest.raises(InvalidInput) as caught:
            check_amount(fen, max_fen=5)
        assert caught.value.rule == rule


@pytest.mark.parametrize(
    ("typed", "value"), [("10", 10), (" ７ ", 7), ("1,000", 1000), ("0", 0)]
)
def test_counts_are_whole_numbers_within_range(typed, value):
    assert parse_count(typed, field="stock", minimum=0, maximum=1_000_000) == value


@pytest.mark.parametrize(
    ("typed", "rule"),
    [
        ("-1", "negative"),
        ("1.5", "not_a_whole_number"),
        ("1,2,3", "not_a_whole_number"),
        ("", "not_a_whole_number"),
        ("ten", "not_a_whole_number"),
        ("9" * 40, "not_a_whole_number"),
        ("৪", "not_a_whole_number"),
        ("1\u200b0", "control_characters"),
        ("1000001", "too_large"),
    ],
)
def test_counts_refused_name_the_rule(typed, rule):
    with pytest.raises(InvalidInput) as caught:
        parse_count(typed, field="stock", minimum=0, maximum=1_000_000)
    assert (caught.value.field, caught.value.rule) == ("stock", rule)


@given(st.text(max_size=30))
def test_any_text_is_a_count_in_range_or_an_invalid_input(text):
    try:
        value = parse_count(text, field="stock", minimum=1, maximum=99)
    except InvalidInput:
        return
    assert 1 <= value <= 99


def test_check_count_names_the_broken_bound():
    with pytest.raises(InvalidInput) as low:
        check_count(0, field="quantity", minimum=1, maximum=9)
    with pytest.raises(InvalidInput) as high:
        check_count(10, field="quantity", minimum=1, maximum=9)
    assert (low.value.rule, low.value.params["minimum"]) == ("too_small", 1)
    assert (high.value.rule, high.value.params["maximum"]) == ("too_large", 9)


def test_clean_text_trims_and_keeps_emoji_newlines_and_right_to_left_scripts():
    assert clean_text("  Green tea 🍵\nfresh  ", field="title", max_chars=80) == "Green tea 🍵\nfresh"
    family = "👨\u200d👩\u200d👧"  # joined by zero-width joiners
    assert clean_text(f"Tea for the {family}", field="title", max_chars=80).endswith(family)
    assert clean_text("שלום تي", field="title", max_chars=80) == "שלום تي"


@pytest.mark.parametrize(
    ("typed", "rule"),
    [("", "too_short"), ("   ", "too_short"), ("a", "too_short"), ("x" * 81, "too_long"),
     ("bad\x00byte", "control_characters"), ("bell\x07", "control_characters"),
     ("Tea \u202egnp.exe", "control_characters"), ("\u2067Tea\u2069", "control_characters")],
)
def test_clean_text_refusals(typed, rule):
    with pytest.raises(InvalidInput) as caught:
        clean_text(typed, field="title", max_chars=80, min_chars=2)
    assert (caught.value.field, caught.value.rule) == ("title", rule)
