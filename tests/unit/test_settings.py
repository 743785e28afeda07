"""Every setting is documented in .env.example, with its real default."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic_settings import BaseSettings

from bot.config import Settings

ENV_EXAMPLE = Path(__file__).parents[2] / ".env.example"


def documented() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def settings_classes() -> list[type[BaseSettings]]:
    classes: list[type[BaseSettings]] = [Settings]
    for module, name in (("gateway.config", "GatewaySettings"), ("sandbox.config", "SandboxSettings")):
        try:
            classes.append(getattr(__import__(module, fromlist=[name]), name))
        except ImportError:
            continue
    return classes


def test_env_example_lists_every_setting_with_its_default():
    env = documented()
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            key = f"{prefix}{name}".upper()
            assert key in env, f"{key} is missing from .env.example"
            default = field.get_default(call_default_factory=True)
            if env[key] == "":  # documented as "empty: the built-in default"
                assert default in (None, "") or isinstance(default, list), key
                continue
            parsed = cls.model_validate({name: _value(env[key], default)})
            assert getattr(parsed, name) == default, f"{key}: .env.example says {env[key]!r}"


def _value(text: str, default: object) -> object:
    return json.loads(text) if isinstance(default, (list, dict)) else text


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SHOPBOT_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("SHOPBOT_ADMIN_IDS", "[1, 2]")
    settings = Settings(_env_file=None)
    assert settings.database_url == "postgresql+asyncpg://u@h/db"
    assert settings.admin_ids == [1, 2]
