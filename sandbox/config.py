"""Settings of the sandbox, read from the environment (prefix ``SHOPBOT_SANDBOX_``).

No setting is required: the defaults run the demo. Personas and channels are
lists of small models so a test can hand in its own cast.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Persona(BaseModel):
    """A ready-made user the web chat offers in its persona picker."""

    id: int
    label: str
    first_name: str
    username: str | None = None
    language_code: str = "en"


class ChannelSeed(BaseModel):
    """A channel that exists from the start, with its owner and the bot's role there."""

    id: int
    title: str
    username: str | None = None
    owner_id: int
    bot_admin: bool = True


def default_personas() -> list[Persona]:
    """The demo's cast: two buyers, two merchants and an administrator (ids as in ``bot.demo_data``)."""
    return [
        Persona(id=1001, label="Ling (buyer)", first_name="Ling", username="ling_buys",
                language_code="zh"),
        Persona(id=1002, label="Alex (buyer)", first_name="Alex", username="alex_buys",
                language_code="en"),
        Persona(id=2001, label="Mei's Tea House (merchant)", first_name="Mei",
                username="meis_tea_house", language_code="zh"),
        Persona(id=2002, label="Bao's Handmade (merchant)", first_name="Bao",
                username="baos_handmade", language_code="en"),
        Persona(id=9001, label="Admin", first_name="Admin", username="shopbot_admin",
                language_code="en"),
    ]


def default_channels() -> list[ChannelSeed]:
    """Each demo merchant's channel, where the bot is an administrator, so cards can be posted."""
    return [
        ChannelSeed(id=-1002001, title="Mei's Tea House", username="meis_tea_channel",
                    owner_id=2001),
        ChannelSeed(id=-1002002, title="Bao's Handmade", username="baos_handmade_channel",
                    owner_id=2002),
    ]


class SandboxSettings(BaseSettings):
    """Every knob of the sandbox: where it listens, who the bot is, Telegram's limits."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPBOT_SANDBOX_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    host: str = "127.0.0.1"
    port: int = 8081
    data_dir: Path = Path("var/sandbox")
    # False keeps everything in memory (tests); True keeps a SQLite file under data_dir.
    persist: bool = True

    bot_token: str = "123456:SANDBOX-TOKEN"
    bot_username: str = "shopbot_demo_bot"
    bot_first_name: str = "Shopbot Demo"

    # Telegram's flood limits (unofficial numbers, see the reference notes).
    rate_limits_enabled: bool = True
    rate_per_chat_per_second: float = 1.0
    rate_per_chat_burst: int = 3
    rate_group_per_minute: int = 20
    rate_overall_per_second: float = 30.0

    clock_file: Path = Path("var/clock.json")
    # The web chat shows times in the bot's time zone (its business day, payouts, "pay by" times).
    time_zone: str = "Asia/Shanghai"

    # Largest request body read (413 beyond it): Telegram's 50 MB limit on files a bot uploads.
    max_body_bytes: int = Field(default=50 * 1000 * 1000, gt=0)

    # How long a control-API caller waits for the bot to answer a button or an inline query.
    answer_wait_seconds: float = 5.0
    # Callback queries older than this cannot be answered any more (Telegram: about 15 s).
    callback_answer_ttl_seconds: float = 15.0
    # Send chosen_inline_result updates (BotFather's /setinlinefeedback).
    inline_feedback: bool = True
    webhook_retry_seconds: float = 1.0

    personas: list[Persona] = Field(default_factory=default_personas)
    channels: list[ChannelSeed] = Field(default_factory=default_channels)

    @property
    def bot_id(self) -> int:
        """The bot's user id: the number before the colon of its token, as on Telegram."""
        return int(self.bot_token.split(":", 1)[0])
