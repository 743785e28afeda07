"""The business registry's client against the gateway's simulated registry, over real HTTP."""

from __future__ import annotations

from bot.commerce.verification import RegistryRecord
from bot.config import Settings
from bot.payments.registry import RegistryClient, look_up
from gateway.registry import build_registry_app
from gateway.testing import serve_asgi


async def test_the_registry_answers_its_demo_companies_and_nothing_else():
    async with serve_asgi(build_registry_app()) as url:
        client = RegistryClient(url, timeout_s=10.0)  # generous: no test of a timeout here
        assert await client.lookup("91330100MA2CD0001X") == RegistryRecord(
            "91330100MA2CD0001X", ("Mei's Tea House", "美茶馆"), active=True)
        assert (await client.lookup("91440300MA5GONE01X")).active is False
        assert await client.lookup("12345678") is None


async def test_an_unreachable_registry_or_a_malformed_number_confirms_nothing(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, registry_url="http://127.0.0.1:9/registry",
                        registry_timeout_s=0.5)
    assert await look_up(settings, "91330100MA2CD0001X") is None
    assert await look_up(settings, "../../gateway.do") is None
    assert await look_up(settings, None) is None
