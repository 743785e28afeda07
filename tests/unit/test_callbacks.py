"""Callback data: what we write decodes back; anything else a client sends is None."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import callbacks


@pytest.fixture(autouse=True)
def actions(monkeypatch):
    """A private set of actions, so these tests neither see nor leave real ones."""
    monkeypatch.setattr(callbacks, "ACTIONS", set())
    callbacks.action("buy")
    callbacks.action("ship_order")


def test_encoded_data_decodes_back_to_the_same_action_and_ids():
    data = callbacks.encode("buy", 42, 2)
    assert data == "buy:42:2"
    assert callbacks.decode(data) == callbacks.Callback("buy", (42, 2))
    assert callbacks.decode("ship_order") == callbacks.Callback("ship_order", ())


def test_callback_arg_gives_a_default_for_missing_ids():
    pressed = callbacks.decode("buy:7")
    assert pressed.arg(0) == 7 and pressed.arg(1) is None and pressed.arg(1, 1) == 1


@given(st.sampled_from(["buy", "ship_order"]),
       st.lists(st.integers(min_value=0, max_value=callbacks.MAX_ID - 1), max_size=4))
def test_anything_encode_writes_decodes_and_matches_its_pattern(name, ids):
    try:
        data = callbacks.encode(name, *ids)
    except ValueError:  # over 64 bytes
        assert len(":".join([name, *map(str, ids)]).encode()) > callbacks.MAX_BYTES
        return
    assert callbacks.decode(data) == callbacks.Callback(name, tuple(ids))
    assert callbacks.pattern(name).match(data)


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("unknown", (1,)),  # never declared
        ("buy", (-1,)),  # negative id
        ("buy", (callbacks.MAX_ID,)),  # id too large
        ("ship_order", (10**14, 10**14, 10**14, 10**14)),  # 71 bytes
    ],
)
def test_encode_refuses_what_decode_would_not_accept(name, ids):
    with pytest.raises(ValueError):
        callbacks.encode(name, *ids)


def test_action_names_are_short_lowercase_words():
    for bad in ("Buy", "buy:now", "9buy", "b" * 17, ""):
        with pytest.raises(ValueError):
            callbacks.action(bad)


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "nope:1",  # unknown action
        "BUY:1",
        "buy:-1",  # negative
        "buy:1a",  # non-digit
        "buy:1.5",
        "buy:",
        "buy::1",
        "buy:1:",
        "buy:1:2:3:4:5",  # too many args
        "buy:" + "9" * 16,  # id over 15 digits
        "buy:1\n",  # trailing newline
        "buy:007",  # leading zeros: not what encode writes
        " buy:1",
        "buy:٣",  # Arabic-Indic digit
        "buy:１",  # full-width digit
        "buy:" + "1:" * 40 + "1",  # oversized
        "x" * 65,  # over 64 bytes
        "buy:1" + "\u00e9" * 30,  # over 64 bytes once encoded
        "buy:1\x00",
        "buy:1\ud800",  # lone surrogate: not even encodable
    ],
)
def test_data_we_did_not_write_decodes_to_none(data):
    assert callbacks.decode(data) is None


@pytest.mark.parametrize("data", ["buy:1\n", "buy:٣", "buy:1:2:3:4:5", "buyer:1", "buy:-1"])
def test_pattern_routes_only_well_formed_data(data):
    assert not callbacks.pattern("buy", "ship_order").match(data)


@given(st.text(max_size=80))
def test_decode_never_raises_and_only_returns_declared_actions(data):
    pressed = callbacks.decode(data)
    if pressed is not None:
        assert pressed.action in callbacks.ACTIONS
        assert len(pressed.args) <= 4 and all(0 <= a < callbacks.MAX_ID for a in pressed.args)
        assert callbacks.encode(pressed.action, *pressed.args) == data
