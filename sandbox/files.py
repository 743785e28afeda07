"""Uploaded files: photos the bot or the users send, served back by ``getFile``.

Telegram identifies a file by a long opaque ``file_id`` and a stable
``file_unique_id`` (the same bytes give the same one); ``getFile`` hands out a
``file_path`` the bot downloads from ``/file/bot<token>/<file_path>``. Bytes
live under ``data_dir/files`` (or in memory when nothing is persisted).
"""

from __future__ import annotations

import hashlib
import secrets
import struct
from pathlib import Path
from typing import Any

import httpx

from .params import Upload, bad_request
from .persist import Persistence

JSON = dict[str, Any]
EXTENSIONS = {"image/png": "png", "image/gif": "gif", "image/webp": "webp"}


def image_info(data: bytes) -> tuple[int, int, str]:
    """Width, height and MIME type of a PNG, GIF, WebP or JPEG; 512x512 JPEG if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height, "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", data[6:10])
        return width, height, "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 512, 512, "image/webp"
    return (*_jpeg_size(data), "image/jpeg")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data) and data[:2] == b"\xff\xd8":
        if data[i] != 0xFF:
            break
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return 512, 512


class FileStore:
    """File metadata by ``file_id`` plus the bytes, on disk or in memory."""

    def __init__(self, db: Persistence, root: Path | None) -> None:
        self.db, self.root = db, root
        self.meta: dict[str, JSON] = dict(self.db.load("files"))
        self._memory: dict[str, bytes] = {}
        self._seq = len(self.meta)

    def add_photo(self, data: bytes) -> JSON:
        """Store uploaded image bytes; return the ``PhotoSize`` the Bot API reports."""
        width, height, mime = image_info(data)
        meta = self._store(data, "photos", EXTENSIONS.get(mime, "jpg"),
                           {"width": width, "height": height, "mime_type": mime})
        return photo_size(meta)

    def add_document(self, upload: Upload) -> JSON:
        """Store any uploaded file; return the ``Document`` the Bot API reports."""
        name = Path(upload.filename or "file").name
        mime = upload.content_type or "application/octet-stream"
        ext = Path(name).suffix.lstrip(".")
        ext = ext if ext.isalnum() and len(ext) <= 8 else "bin"
        meta = self._store(upload.data, "documents", ext,
                           {"mime_type": mime, "file_name": name})
        return document(meta)

    def _store(self, data: bytes, folder: str, ext: str, extra: JSON) -> JSON:
        """Keep the bytes and their metadata; the same bytes keep their file_unique_id."""
        self._seq += 1
        unique = "AQAD" + hashlib.sha1(data).hexdigest()[:16]
        file_path = f"{folder}/file_{self._seq}.{ext}"
        file_id = ("AgACAgQAAxk" if folder == "photos" else "BQACAgQAAxk") + secrets.token_urlsafe(30)
        meta = {"file_id": file_id, "file_unique_id": unique, "file_size": len(data),
                "file_path": file_path, **extra}
        if self.root is None:
            self._memory[file_path] = data
        else:
            target = self.root / file_path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.meta[file_id] = meta
        self.db.put("files", file_id, meta)
        return meta

    async def resolve_photo(self, given: Upload | str | None) -> JSON:
        """The stored photo for an upload, a known file_id or an http(s) URL, as Telegram does."""
        if isinstance(given, Upload):
            return self.add_photo(given.data)
        if not given:
            raise bad_request("there is no photo in the request")
        if given in self.meta:
            if "width" not in self.meta[given]:
                raise bad_request("type of file mismatch")
            return photo_size(self.meta[given])
        if given.startswith(("http://", "https://")):
            return self.add_photo(await self._fetch(given))
        raise bad_request("wrong file identifier/HTTP URL specified")

    async def resolve_document(self, given: Upload | str | None) -> JSON:
        """The stored document for an upload, a known file_id or an http(s) URL."""
        if isinstance(given, Upload):
            return self.add_document(given)
        if given and given in self.meta:
            return document(self.meta[given])
        if given and given.startswith(("http://", "https://")):
            name = given.rsplit("/", 1)[-1] or "file"
            return self.add_document(Upload(await self._fetch(given), name, None))
        raise bad_request("there is no document in the request")

    async def _fetch(self, url: str) -> bytes:
        try:
            async with httpx.AsyncClient(timeout=5, follow_redirects=True) as client:
                response = await client.get(url)
                response.raise_for_status()
        except httpx.HTTPError as err:
            raise bad_request("failed to get HTTP URL content") from err
        return response.content

    def get_file(self, file_id: str | None) -> JSON:
        """``getFile``'s answer."""
        meta = self.meta.get(file_id or "")
        if meta is None:
            raise bad_request("invalid file_id")
        return {k: meta[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}

    def read(self, file_path: str) -> tuple[bytes, str] | None:
        """Bytes and MIME type by ``file_path`` (downloads) or by ``file_id`` (web chat)."""
        meta = self.meta.get(file_path) or next(
            (m for m in self.meta.values() if m["file_path"] == file_path), None)
        if meta is None:
            return None
        path = meta["file_path"]
        if self.root is None:
            data = self._memory.get(path)
        else:
            target = self.root / path
            data = target.read_bytes() if target.is_file() else None
        return None if data is None else (data, meta["mime_type"])


def photo_size(meta: JSON) -> JSON:
    """The ``PhotoSize`` fields of a stored file."""
    return {k: meta[k] for k in ("file_id", "file_unique_id", "file_size", "width", "height")}


def document(meta: JSON) -> JSON:
    """The ``Document`` fields of a stored file."""
    keys = ("file_id", "file_unique_id", "file_size", "file_name", "mime_type")
    return {k: meta[k] for k in keys if k in meta}
