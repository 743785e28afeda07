"""One verified open-API call, as the method handlers receive it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row

from gateway.runtime import Runtime


@dataclass(frozen=True)
class Call:
    """A request whose signature and app have been checked."""

    rt: Runtime
    app: Row[Any]
    method: str
    sign_type: str
    # All received params, raw (query string merged with the form body).
    params: dict[str, str]
    # biz_content decoded, numbers as Decimal so amounts are never floats.
    biz: dict[str, Any]

    def text(self, name: str) -> str:
        """A biz_content string field ("" if absent or not text); its length was checked on arrival."""
        value = self.biz.get(name)
        return value if isinstance(value, str) else ""
