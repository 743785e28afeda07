"""The payment client's own rules: amounts as Alipay writes them, keys from the demo file, links."""

from __future__ import annotations

import json

import pytest

from bot.config import Settings
from bot.payments.alipay import fen_to_yuan, gateway_from_settings, parse_statement, yuan_to_fen
from bot.payments.credentials import credentials_from_settings
from bot.payments.trade_links import trade_from_token, trade_token


@pytest.mark.parametrize(("text", "fen"), [("0.01", 1), ("12", 1200), ("12.5", 1250), ("1299.00", 129900),
                                           ("-3.20", -320)])
def test_yuan_strings_become_exact_fen(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["", "1e3", "12.345", "01.00", " 1.00", "1,000.00", "NaN", "１２", "1２",
                                  None, 12.5])
def test_anything_but_a_plain_decimal_amount_is_refused(text):
    with pytest.raises(ValueError):
        yuan_to_fen(text)


def test_fen_are_written_with_two_decimals():
    assert [fen_to_yuan(f) for f in (1, 10, 129900, 0)] == ["0.01", "0.10", "1299.00", "0.00"]


def test_keys_come_from_the_demo_file_unless_settings_say_otherwise(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"app_id": "2021", "app_private_key": "PRIV", "app_public_key": "PUB",
                                "gateway_public_key": "GW", "gateway_url": "http://gw:8090/gateway.do"}))

    from_file = credentials_from_settings(Settings(_env_file=None, pay_keys_file=keys))
    overridden = credentials_from_settings(Settings(_env_file=None, pay_keys_file=keys,
                                                    pay_app_id="2099", pay_gateway_url="https://x/gateway.do"))
    missing = Settings(_env_file=None, pay_keys_file=tmp_path / "absent.json")

    assert from_file is not None and (from_file.app_id, from_file.gateway_url) == ("2021", "http://gw:8090/gateway.do")
    assert overridden is not None and (overridden.app_id, overridden.gateway_url) == ("2099", "https://x/gateway.do")
    assert credentials_from_settings(missing) is None and gateway_from_settings(missing) is None


def test_trade_links_cannot_be_forged_or_moved_to_another_trade():
    token = trade_token("secret", "DP7-20260105-0")
    assert trade_from_token("secret", token) == "DP7-20260105-0"
    assert trade_from_token("other", token) is None
    assert trade_from_token("secret", token.replace("DP7", "DP8")) is None
    assert trade_from_token("secret", "../etc.passwd") is None


def test_statement_rows_become_typed_lines():
    text = ("type,trade_no,out_no,subject,amount,time,status\n"
            "payment,T1,SB00000001,Tea,12.50,2026-01-05 10:00:00,TRADE_SUCCESS\n"
            "refund,T1,RF1-1,Tea,-2.50,2026-01-05 11:00:00,REFUND_SUCCESS\n")
    lines = parse_statement(text)
    assert [(x.kind, x.reference, x.amount_fen) for x in lines] == [("trade", "SB00000001", 1250),
                                                                   ("refund", "RF1-1", 250)]
    assert lines[0].at is not None and lines[0].at.hour == 2  # 10:00 in Shanghai is 02:00 UTC
