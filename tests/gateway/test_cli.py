"""``shopbot gateway keys --json`` hands out working demo credentials."""

from __future__ import annotations

import json

from gateway import signing
from gateway.cli import main


def test_keys_json_prints_the_demo_app_and_the_same_keys_on_every_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SHOPBOT_GATEWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHOPBOT_GATEWAY_PUBLIC_URL", "http://gw.test:8090")

    assert main(["keys", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["keys", "--json"]) == 0
    second = json.loads(capsys.readouterr().out)

    assert first == second
    assert first["app_id"] == "2021000000000001"
    assert first["gateway_url"] == "http://gw.test:8090/gateway.do"
    key = signing.load_private(first["app_private_key"])
    assert signing.public_pem(key) == first["app_public_key"]
    assert signing.load_public(first["gateway_public_key"])
