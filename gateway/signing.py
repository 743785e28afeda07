"""RSA signatures as Alipay computes them, with ``cryptography``.

Three canonical strings exist and they differ on purpose:

* a merchant's request: every param but ``sign`` (``sign_type`` included),
  empty values dropped, sorted, ``k=v`` joined by ``&``, raw decoded values;
* a notification or return redirect: the same, but ``sign_type`` is dropped too;
* a synchronous response: the exact bytes of the inner JSON object.

RSA2 is SHA256withRSA, RSA is SHA1withRSA, both PKCS#1 v1.5, base64 output.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SIGN_TYPES = ("RSA2", "RSA")


def new_private_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit key, the size Alipay issues."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    """PKCS#1 PEM (``BEGIN RSA PRIVATE KEY``): the form both Python SDKs load."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """SPKI PEM (``BEGIN PUBLIC KEY``)."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_private(pem: str) -> rsa.RSAPrivateKey:
    """Load a PEM private key written by ``private_pem``."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def load_public(pem: str) -> rsa.RSAPublicKey:
    """Load an SPKI PEM public key."""
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def _hash(sign_type: str) -> hashes.HashAlgorithm:
    if sign_type == "RSA2":
        return hashes.SHA256()
    if sign_type == "RSA":
        return hashes.SHA1()
    raise ValueError(f"unsupported sign_type {sign_type!r}")


def sign(key: rsa.RSAPrivateKey, content: str, sign_type: str = "RSA2") -> str:
    """Sign UTF-8 text; standard base64 without newlines."""
    raw = key.sign(content.encode("utf-8"), padding.PKCS1v15(), _hash(sign_type))
    return base64.b64encode(raw).decode()


def verify(key: rsa.RSAPublicKey, content: str, signature: str, sign_type: str = "RSA2") -> bool:
    """True if ``signature`` is a valid signature of ``content``; malformed input is False."""
    try:
        raw = base64.b64decode(signature, validate=False)
        key.verify(raw, content.encode("utf-8"), padding.PKCS1v15(), _hash(sign_type))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_content(params: Mapping[str, str], *, keep_empty: bool = False) -> str:
    """The string a merchant signs: all but ``sign``, no empties, sorted ``k=v&...``.

    The doc drops empty values but neither Python SDK does, so the gateway
    also tries ``keep_empty=True`` before calling a signature invalid.
    """
    items = sorted((k, v) for k, v in params.items() if k != "sign" and (keep_empty or v != ""))
    return "&".join(f"{k}={v}" for k, v in items)


def notify_content(params: Mapping[str, str]) -> str:
    """The string the gateway signs for notifications and returns: no sign, no sign_type."""
    return request_content({k: v for k, v in params.items() if k != "sign_type"})


def signed_notify_params(
    key: rsa.RSAPrivateKey, params: Mapping[str, str], sign_type: str = "RSA2"
) -> dict[str, str]:
    """Params plus ``sign_type`` and ``sign``, with empty values removed (never emitted)."""
    out = {k: v for k, v in params.items() if v != ""}
    out["sign_type"] = sign_type
    out["sign"] = sign(key, notify_content(out), sign_type)
    return out
