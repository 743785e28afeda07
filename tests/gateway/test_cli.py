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


def test_public_url_follows_host_and_port_unless_given(tmp_path):
    from gateway.config import GatewaySettings

    default = GatewaySettings(_env_file=None, data_dir=tmp_path)
    moved = GatewaySettings(_env_file=None, data_dir=tmp_path, host="0.0.0.0", port=9000)
    given = GatewaySettings(_env_file=None, data_dir=tmp_path, public_url="https://gw.example")

    assert default.public_url == "http://127.0.0.1:8090"
    assert default.gateway_url == "http://127.0.0.1:8090/gateway.do"
    assert moved.public_url == "http://127.0.0.1:9000"
    assert given.gateway_url == "https://gw.example/gateway.do"
    assert default.database_url == f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
