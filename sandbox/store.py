"""The sandbox's world: users, chats, messages and who blocked whom.

Everything is kept as Telegram's own JSON (``User``, ``Chat``, ``Message``)
so the Bot API answers are the stored documents. Every change bumps a
revision number and wakes long pollers, which is how the web chat sees new,
edited and deleted messages live. Message ids count up per chat; dates come
from the sandbox clock, so they move when the clock is advanced.
"""

from __future__ import annotations

import asyncio
import bisect
from typing import Any

from .clockfile import ClockControl
from .config import SandboxSettings
from .persist import Persistence

JSON = dict[str, Any]


class Signal:
    """Wakes every waiter once per ``fire()``; cheap long polling inside one event loop."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Wait for the next ``fire()``; False after ``seconds`` without one."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True


class Store:
    """In-memory state, written through to ``Persistence`` on every change."""

    def __init__(self, settings: SandboxSettings, clock: ClockControl, db: Persistence) -> None:
        self.settings, self.clock, self.db = settings, clock, db
        self.bot_user: JSON = {"id": settings.bot_id, "is_bot": True,
                               "first_name": settings.bot_first_name,
                               "username": settings.bot_username}
        self.users: dict[int, JSON] = {}
        self.blocked: set[int] = set()
        self.chats: dict[int, JSON] = {}
        self.chat_meta: dict[int, JSON] = {}
        self.messages: dict[int, dict[int, JSON]] = {}
        self.inline_messages: dict[str, tuple[int, int]] = {}
        # Per chat, (revision, message_id) in revision order: what changed when.
        self._log: dict[int, list[tuple[int, int]]] = {}
        self.counters: JSON = {"rev": 0, "update_id": 0, "user_id": 700000, "file": 0,
                               "group_id": 5000, "channel_id": 5000}
        self.commands: dict[str, list[JSON]] = {}
        self.changed = Signal()
        self._load()
        self._seed()

    # --- loading -----------------------------------------------------------------------
    def _load(self) -> None:
        self.commands.update(self.db.load("commands"))
        for _, counters in self.db.load("counters"):
            self.counters.update(counters)
        for key, row in self.db.load("users"):
            self.users[int(key)] = row["user"]
            if row.get("blocked"):
                self.blocked.add(int(key))
        for key, row in self.db.load("chats"):
            self.chats[int(key)] = row["chat"]
            self.chat_meta[int(key)] = row["meta"]
        self._load_messages([rec for _, rec in self.db.load("messages")])

    def _load_messages(self, recs: list[JSON]) -> None:
        """Messages by increasing id per chat (new ids count on), the change log by revision."""
        for rec in sorted(recs, key=lambda r: r["message"]["message_id"]):
            chat_id, message_id = rec["message"]["chat"]["id"], rec["message"]["message_id"]
            self.messages.setdefault(chat_id, {})[message_id] = rec
            if rec.get("inline_message_id"):
                self.inline_messages[rec["inline_message_id"]] = (chat_id, message_id)
        for rec in sorted(recs, key=lambda r: r["rev"]):
            message = rec["message"]
            self._log.setdefault(message["chat"]["id"], []).append(
                (rec["rev"], message["message_id"]))

    def _seed(self) -> None:
        """Personas and seeded channels exist from the start (kept if already stored)."""
        for persona in self.settings.personas:
            if persona.id not in self.users:
                self.add_user(persona.id, persona.first_name, persona.username,
                              persona.language_code)
        for seed in self.settings.channels:
            if seed.id not in self.chats:
                self.add_channel(seed.title, seed.username, seed.owner_id,
                                 bot_admin=seed.bot_admin, chat_id=seed.id)

    # --- counters ----------------------------------------------------------------------
    def next_counter(self, name: str, step: int = 1) -> int:
        """Increment a persisted counter and return its new value."""
        self.counters[name] += step
        self.db.put("counters", "all", self.counters)
        return int(self.counters[name])

    def touch(self) -> int:
        """A new revision: something visible changed."""
        rev = self.next_counter("rev")
        self.changed.fire()
        return rev

    # --- users and chats ---------------------------------------------------------------
    def add_user(self, user_id: int | None, first_name: str, username: str | None = None,
                 language_code: str | None = None, *, started: bool = True) -> JSON:
        """Create (or replace) a user and their private chat with the bot.

        ``started=False`` is a user who never opened the bot: it may not write to them yet.
        """
        uid = user_id if user_id is not None else self.next_counter("user_id")
        user: JSON = {"id": uid, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[uid] = user
        self._save_user(uid)
        chat = {"id": uid, "type": "private", "first_name": first_name}
        if username:
            chat["username"] = username
        self._put_chat(chat, {"members": [uid], "owner_id": uid, "bot_admin": False,
                              "started": started})
        return user

    def mark_started(self, user_id: int) -> None:
        """The user wrote to the bot: from now on the bot may write to them."""
        meta = self.chat_meta[user_id]
        if not meta.get("started", True):
            meta["started"] = True
            self._put_chat(self.chats[user_id], meta)

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Record whether a user has blocked the bot."""
        (self.blocked.add if blocked else self.blocked.discard)(user_id)
        self._save_user(user_id)

    def _save_user(self, user_id: int) -> None:
        self.db.put("users", user_id, {"user": self.users[user_id],
                                       "blocked": user_id in self.blocked})
        self.touch()

    def add_channel(self, title: str, username: str | None, owner_id: int, *,
                    bot_admin: bool = True, chat_id: int | None = None) -> JSON:
        """A channel owned by ``owner_id``; every known user can read it."""
        cid = chat_id if chat_id is not None else -(1001000000000 + self.next_counter("channel_id"))
        chat: JSON = {"id": cid, "type": "channel", "title": title}
        if username:
            chat["username"] = username
        self._put_chat(chat, {"owner_id": owner_id, "bot_admin": bot_admin, "members": []})
        return chat

    def add_group(self, title: str, member_ids: list[int], owner_id: int) -> JSON:
        """A basic group with the bot and the given users in it."""
        cid = -self.next_counter("group_id")
        chat: JSON = {"id": cid, "type": "group", "title": title}
        meta = {"owner_id": owner_id, "bot_admin": False, "members": sorted(set(member_ids))}
        self._put_chat(chat, meta)
        return chat

    def set_bot_admin(self, chat_id: int, admin: bool) -> None:
        """Make the bot an administrator of a chat, or not."""
        self.chat_meta[chat_id]["bot_admin"] = admin
        self._put_chat(self.chats[chat_id], self.chat_meta[chat_id])

    def _put_chat(self, chat: JSON, meta: JSON) -> None:
        self.chats[chat["id"]] = chat
        self.chat_meta[chat["id"]] = meta
        self.db.put("chats", chat["id"], {"chat": chat, "meta": meta})
        self.touch()

    def resolve_chat(self, chat_ref: int | str) -> JSON | None:
        """A chat by numeric id or ``@username``, as the Bot API's ``chat_id`` accepts."""
        if isinstance(chat_ref, str) and chat_ref.startswith("@"):
            name = chat_ref[1:].lower()
            return next((c for c in self.chats.values()
                         if c.get("username", "").lower() == name and c["type"] != "private"),
                        None)
        try:
            return self.chats.get(int(chat_ref))
        except ValueError:
            return None

    def chats_of(self, user_id: int) -> list[JSON]:
        """The chats a user sees: their chat with the bot, their groups, every channel."""
        found = []
        for chat_id, chat in self.chats.items():
            meta = self.chat_meta[chat_id]
            if chat["type"] == "channel" or user_id in meta.get("members", []):
                found.append({**chat, "bot_admin": meta.get("bot_admin", False),
                              "owner_id": meta.get("owner_id")})
        return found

    # --- messages ----------------------------------------------------------------------
    def new_message(self, chat: JSON, sender: JSON | None, content: JSON, *,
                    inline_message_id: str | None = None) -> JSON:
        """Store a message with the next id of its chat and the sandbox clock's date."""
        by_id = self.messages.setdefault(chat["id"], {})
        message_id = next(reversed(by_id), 0) + 1  # ids are inserted in increasing order
        message: JSON = {"message_id": message_id}
        if sender is not None:
            message["from"] = sender
        if chat["type"] == "channel":
            message["sender_chat"] = chat
        message.update(date=self.clock.unix_now(), chat=chat, **content)
        self.save_message({"message": message, "inline_message_id": inline_message_id,
                           "deleted": False})
        if inline_message_id:
            self.inline_messages[inline_message_id] = (chat["id"], message_id)
        return message

    def save_message(self, rec: JSON) -> None:
        """Write a (new or changed) message record with a fresh revision."""
        message = rec["message"]
        rec["rev"] = self.touch()
        self.messages.setdefault(message["chat"]["id"], {})[message["message_id"]] = rec
        self._log.setdefault(message["chat"]["id"], []).append((rec["rev"], message["message_id"]))
        self.db.put("messages", f'{message["chat"]["id"]}:{message["message_id"]}', rec)

    def record(self, chat_id: int, message_id: int) -> JSON | None:
        """A live (not deleted) message record."""
        rec = self.messages.get(chat_id, {}).get(message_id)
        return None if rec is None or rec["deleted"] else rec

    def inline_record(self, inline_message_id: str) -> JSON | None:
        """A live message sent via inline mode, by its inline_message_id."""
        where = self.inline_messages.get(inline_message_id)
        return self.record(*where) if where else None

    def changes(self, chat_id: int, after_rev: int) -> list[JSON]:
        """Records of one chat changed after a revision, oldest first (a bisect, not a scan)."""
        log = self._log.get(chat_id, [])
        start = bisect.bisect_right(log, (after_rev, float("inf")))
        by_id = self.messages.get(chat_id, {})
        latest = {message_id: by_id[message_id] for _, message_id in log[start:]}
        return sorted(latest.values(), key=lambda r: r["rev"])
