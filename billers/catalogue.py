"""The billers' catalogue and the bills they hold, made up but deterministic.

Mobile operators take fixed amounts for an 11-digit mainland number
(starting with 1). Utility companies look a bill up by account number: an
account of 6–20 digits owes an amount derived from a hash of the biller and
the account (so the same account always owes the same until paid); one
ending in ``000`` owes nothing (no bill).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Company:
    """One biller: a mobile operator (``amounts_fen`` fixed) or a utility (bills by account)."""

    code: str
    kind: str
    names: dict[str, str]
    amounts_fen: tuple[int, ...] = ()


CATALOGUE: tuple[Company, ...] = (
    Company("cmcc", "mobile", {"en": "China Mobile", "zh": "中国移动"}, (10_00, 30_00, 50_00, 100_00)),
    Company("unicom", "mobile", {"en": "China Unicom", "zh": "中国联通"}, (20_00, 50_00, 100_00)),
    Company("telecom", "mobile", {"en": "China Telecom", "zh": "中国电信"}, (30_00, 50_00, 100_00, 200_00)),
    Company("state_grid", "electricity", {"en": "State Grid Electricity", "zh": "国家电网"}),
    Company("city_water", "water", {"en": "City Water Supply", "zh": "自来水公司"}),
    Company("city_gas", "gas", {"en": "City Gas", "zh": "燃气公司"}),
)
BY_CODE = {c.code: c for c in CATALOGUE}
_PHONE = re.compile(r"1\d{10}", re.ASCII)
_UTILITY_ACCOUNT = re.compile(r"\d{6,20}", re.ASCII)


def payee_of(company: Company) -> dict[str, str]:
    """The company's account at the payment gateway, where the platform pays what it collected for it."""
    return {"identity": f"{company.code}@billers.example", "name": company.names["en"]}


def valid_account(company: Company, account: str) -> bool:
    """A phone number for an operator, a 6–20 digit account for a utility."""
    pattern = _PHONE if company.kind == "mobile" else _UTILITY_ACCOUNT
    return bool(pattern.fullmatch(account))


def amount_due(company: Company, account: str) -> int:
    """What a utility account owes (0: nothing), in fen; between 20.00 and 419.99."""
    if account.endswith("000"):
        return 0
    digest = hashlib.sha256(f"{company.code}:{account}".encode()).digest()
    return 20_00 + int.from_bytes(digest[:4], "big") % 400_00


def holder_of(account: str) -> str:
    """A masked account holder's name, as utilities print it."""
    surnames = "王李张刘陈杨黄赵吴周"
    return f"{surnames[int(account[-1]) % len(surnames)]}*"


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def fen_of(text: object) -> int | None:
    """``"12.34"`` → 1234; None for anything that is not a positive plain amount."""
    if not isinstance(text, str):
        return None
    match = re.fullmatch(r"(0|[1-9]\d{0,9})(?:\.(\d{1,2}))?", text, re.ASCII)
    if match is None:
        return None
    fen = int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))
    return fen or None
