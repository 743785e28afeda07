"""Loading the official alipay-sdk-python next to python-alipay-sdk, and its port fix.

Both distributions ship ``alipay/__init__.py``: installing the official one
into the venv would overwrite python-alipay-sdk's ``AliPay`` that the bot
uses. So the official wheel is unpacked into its own directory
(``pip install --no-deps --target .venv/opt/alipay-sdk-python
'alipay-sdk-python>=3.7,<3.8'`` plus its deps ``rsa`` and ``pycryptodome``)
and only its ``alipay.aop`` subpackage is made importable, by extending the
``alipay`` package path. ``SHOPBOT_ALIPAY_SDK_DIR`` points elsewhere.
"""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = Path(os.environ.get("SHOPBOT_ALIPAY_SDK_DIR", ROOT / ".venv/opt/alipay-sdk-python"))


def load_official_sdk() -> ModuleType:
    """``alipay.aop.api``, or skip the test with the command that installs it."""
    import alipay

    extra = SDK_DIR / "alipay"
    if (extra / "aop").is_dir() and str(extra) not in alipay.__path__:
        alipay.__path__.append(str(extra))
    try:
        import alipay.aop.api as api
        from alipay.aop.api.util import WebUtils  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"official alipay-sdk-python not found in {SDK_DIR} ({exc})")
    return api


def get_http_connection_with_port(url: str, query_string: str, timeout: float):
    """``WebUtils.get_http_connection`` line for line, with its port bug fixed and nothing else.

    3.7.1411 always connects to port 80/443 and crashes on an explicit port
    (``url += url_parse_result.port``: str + int); ``do_post`` looks this
    function up as a module global. The request target stays what the SDK
    builds: the absolute form ``http://host:port/gateway.do?<common params>``.
    """
    parts = urlsplit(url)
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = factory(parts.hostname, parts.port, timeout=timeout)
    target = parts.scheme + "://" + (parts.hostname or "")
    if parts.port:
        target += f":{parts.port}"
    return target + parts.path + "?" + query_string, connection


def pem_body(pem: str) -> str:
    """The base64 body of a PEM, the form the official SDK's examples use."""
    return "".join(line for line in pem.strip().splitlines() if not line.startswith("-----"))
