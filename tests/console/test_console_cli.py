"""``shopbot console-user``: operators are added and given new passwords from the command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import io

import pytest

from bot.cli import main
from bot.commerce import operators


@pytest.fixture
def cli(db, tmp_path, monkeypatch):
    """Run ``shopbot`` against the test database with ``stdin`` piped in; its exit status."""
    monkeypatch.setenv("SHOPBOT_DATABASE_URL", db.url)
    monkeypatch.setenv("SHOPBOT_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no developer's .env

    def run(*argv: str, stdin: str) -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main(list(argv))
    return run


async def _operator(db, name):
    async with db.transaction() as s:
        return await operators.find_operator(s, name)


async def test_an_operator_is_added_with_a_hashed_password_and_a_taken_name_is_refused(db, cli, capsys):
    assert await _run(cli, "console-user", "add", "alice", stdin="a long enough password\n") == 0
    found = await _operator(db, "alice")
    assert found.password_hash.startswith("$argon2id$") and "a long enough" not in found.password_hash
    assert operators.check_password(found.password_hash, "a long enough password")
    assert await _run(cli, "console-user", "add", "alice", stdin="another long password\n") == 2
    assert "is taken" in capsys.readouterr().err
    assert await _run(cli, "console-user", "add", "bob", stdin="short\n") == 2
    assert await _run(cli, "console-user", "add", "no spaces", stdin="a long enough password\n") == 2
    assert await _operator(db, "bob") is None and await _operator(db, "no spaces") is None


async def test_a_new_password_lifts_a_lockout(db, cli):
    await _run(cli, "console-user", "add", "alice", stdin="a long enough password\n")
    now = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
    for _ in range(5):
        async with db.transaction() as s:
            await operators.record_sign_in(s, name="alice", password_ok=False, now=now, max_failed=5,
                                           lockout=dt.timedelta(minutes=15))
    assert (await _operator(db, "alice")).locked_until is not None
    assert await _run(cli, "console-user", "password", "alice", stdin="a brand new password\n") == 0
    found = await _operator(db, "alice")
    assert found.locked_until is None
    assert operators.check_password(found.password_hash, "a brand new password")
    assert await _run(cli, "console-user", "password", "nobody", stdin="a brand new password\n") == 2


async def _run(cli, *argv: str, stdin: str) -> int:
    """The command runs its own event loop: off this test's loop, in a thread."""
    return await asyncio.to_thread(cli, *argv, stdin=stdin)
