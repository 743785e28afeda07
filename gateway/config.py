"""Settings of the simulated gateway, read from ``SHOPBOT_GATEWAY_*`` variables.

Only ``gateway.cli.main`` reads the environment; tests build a
``GatewaySettings(...)`` directly with their own data dir.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    """Where the gateway listens, where it keeps its data, and how badly it behaves."""

    model_config = SettingsConfigDict(env_prefix="SHOPBOT_GATEWAY_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8090
    # The address payers and merchants use; checkout, QR and bill URLs start with it.
    # Empty means http://<host>:<port> (127.0.0.1 for a wildcard host): http://127.0.0.1:8090.
    public_url: str = ""
    data_dir: Path = Path("var/gateway")
    # Empty means a SQLite file inside data_dir.
    database_url: str = ""
    # The sandbox's clock file (the demo sets it): the gateway's time is wall time plus its offset,
    # so statements and expiries follow the demo's "+15 days". Unset: wall time.
    clock_file: Path | None = None
    # Multiplies the notification retry schedule (4m, 10m, ...); tests use 0.001.
    notify_time_scale: float = Field(default=1.0, gt=0)
    # Largest request body read (413 beyond it); open-API calls and checkout forms are a few KiB.
    max_body_bytes: int = Field(default=1 << 20, gt=0)

    # Failure injection; all rates are probabilities in [0, 1].
    decline_rate: float = Field(default=0.0, ge=0, le=1)
    notify_delay_s: float = Field(default=0.0, ge=0)
    notify_drop_rate: float = Field(default=0.0, ge=0, le=1)
    notify_duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    error_5xx_rate: float = Field(default=0.0, ge=0, le=1)
    slow_response_s: float = Field(default=0.0, ge=0)
    seed: int = 0

    @model_validator(mode="after")
    def _defaults(self) -> GatewaySettings:
        """Derive public_url from host and port, and the database from data_dir, if not given."""
        if not self.public_url:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            self.public_url = f"http://{host}:{self.port}"
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'gateway.db'}"
        return self

    @property
    def gateway_url(self) -> str:
        """The open-API endpoint merchants are configured with."""
        return self.public_url.rstrip("/") + "/gateway.do"
