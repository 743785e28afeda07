"""Settings, read from the environment (prefix ``SHOPBOT_``) and ``.env``.

Only ``main()`` entry points build a ``Settings``; everything else receives
one. No setting is required: the defaults run the offline sandbox demo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the bot, the scheduler and the commerce rules."""

    model_config = SettingsConfigDict(
        env_prefix="SHOPBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage
    data_dir: Path = Path("var")
    database_url: str = "sqlite+aiosqlite:///var/shopbot.db"
    # When set, time is the system clock plus the offset in this JSON file (the sandbox moves it).
    clock_file: Path | None = None

    # --- Telegram
    telegram_token: str = "123456:SANDBOX-TOKEN"
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_file_base_url: str = "https://api.telegram.org/file/bot"
    webhook_url: str = ""
    webhook_secret: str = "change-me-webhook-secret"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    public_base_url: str = "http://127.0.0.1:8080"
    # Largest request body the web endpoints read (413 beyond it). A Telegram update or a gateway
    # notification is a few KiB; 1 MiB leaves room without letting one request stall the bot.
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    # Where the payment pages' "Back to the chat" links go; empty means https://t.me/<the bot>.
    chat_url: str = ""
    # Signs the bot's own /pay/<token> links, so an order id cannot be guessed into one.
    link_secret: str = "change-me-link-secret"
    admin_ids: list[int] = Field(default_factory=list)
    default_language: str = "zh"
    # Outbox dispatcher: Telegram's limits (≈30 messages/s overall, 1/s per chat) and retries.
    outbox_messages_per_second: int = 30  # overall, shared out over the dispatcher's ticks
    outbox_chat_interval_s: float = 1.0  # at least this long between two messages to one chat
    outbox_max_attempts: int = 5  # transient send failures before a message is dropped
    outbox_poll_s: float = 1.0  # how often the dispatcher looks for due messages

    # --- admin web console at /console (docs/deploy.md, "Admin console"); off while the secret is empty.
    # Signs the console's session cookie: a long random string (`openssl rand -hex 32`).
    console_secret: str = ""
    console_max_failed_logins: int = Field(default=5, gt=0)  # wrong passwords in a row before a lockout
    console_lockout_minutes: int = Field(default=15, gt=0)  # how long a name stays locked
    console_session_hours: int = Field(default=8, gt=0)  # a session cookie's life
    console_secure_cookie: bool = False  # send the cookie over HTTPS only: turn on behind TLS

    # --- watching it (docs/deploy.md, "Watching it")
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line, with update and order ids
    log_level: str = "INFO"
    # /readyz gives the database and the gateway this long each before it answers 503.
    readyz_timeout_s: float = Field(default=3.0, gt=0)
    # The scheduler serves its own Prometheus /metrics on this port; 0: not served (the bot's is on web_port).
    scheduler_metrics_port: int = Field(default=0, ge=0, le=65535)
    scheduler_metrics_host: str = "127.0.0.1"

    # --- commerce rules
    currency: str = "CNY"
    max_price_fen: int = 10_000_000_00
    max_stock: int = 1_000_000
    max_quantity_per_order: int = 99
    title_max_chars: int = 80
    description_max_chars: int = 700
    platform_fee_bps: int = 60
    t0_deposit_fen: int = 20_000_00
    order_ttl_minutes: int = 15
    auto_confirm_days: int = 10
    followups_per_week: int = 3
    auto_approve_enterprises: bool = True  # only those the business registry confirms, never reapplicants
    # The business registry asked before a shop is shown as verified (the demo mounts it on the gateway).
    registry_url: str = "http://127.0.0.1:8090/registry"
    registry_timeout_s: float = 5.0  # slower than this: the application waits for an admin instead
    # Days after an order ends (completed, refunded, closed) that its merchant still sees the buyer's
    # name, phone and address in full; masked afterwards, and erased when the buyer deletes the entry.
    address_retention_days: int = 30

    # --- settlement
    settlement_time: str = "02:00"
    settlement_days_t15: int = 15
    # Payouts (cycles and withdrawals) wait this long after a merchant changes its payout account:
    # long enough that a change on a Friday evening is seen by the shop and an admin before money moves.
    payee_change_hold_hours: int = Field(default=72, ge=0, le=24 * 30)

    # --- payment gateway
    # The open-API endpoint (the simulated gateway by default); a real Alipay URL works the same.
    pay_gateway_url: str = "http://127.0.0.1:8090/gateway.do"
    pay_app_id: str = ""
    pay_app_private_key: str = ""  # PEM; the app's key that signs requests
    pay_gateway_public_key: str = ""  # PEM; the gateway's key that signs answers and notifications
    pay_sign_type: str = "RSA2"
    # `shopbot gateway keys --json > FILE`: fills the gateway settings above that are left empty.
    pay_keys_file: Path = Path("var/gateway-keys.json")
    # Seconds before a call to the gateway counts as unavailable (retried later, same key).
    pay_timeout_s: float = 10.0
    # Unpaid orders are queried at the gateway this long before they expire (missed notifications).
    payment_sync_lead_s: int = 120

    # --- wallet (see docs/wallet.md)
    wallet_max_amount_fen: int = 50_000_00  # largest single top-up, transfer, bill or withdrawal
    wallet_transfer_confirm_above_fen: int = 1_000_00  # larger transfers need a second confirmation
    wallet_daily_transfer_limit_fen: int = 5_000_00  # per sender and business day
    wallet_withdrawal_delay_working_days: int = 1  # shown as the expected arrival date
    wallet_topup_ttl_minutes: int = 15  # an unpaid top-up's trade is closed at the gateway after this
    # The simulated biller service (phone top-ups, utility bills); a call slower than this is a
    # timeout, and the wallet is refunded.
    biller_url: str = "http://127.0.0.1:8090/billers"  # the demo mounts it on the gateway
    biller_timeout_s: float = 5.0
