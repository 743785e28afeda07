"""The sandbox's default cast is the demo seed's: same ids, names, languages and channels."""

from __future__ import annotations

from pathlib import Path

from bot.demo import Ports, demo_env
from bot.demo_data import ADMIN_ID, PEOPLE, SHOPS
from sandbox.config import default_channels, default_personas


def test_every_seeded_person_and_shop_owner_is_a_persona_with_the_same_language() -> None:
    personas = {p.id: p for p in default_personas()}
    seeded = [(p.user_id, p.first_name, p.username, p.language) for p in PEOPLE]
    seeded += [(s.owner_id, s.first_name, s.username, s.language) for s in SHOPS]
    assert {user_id for user_id, *_ in seeded} == set(personas)
    for user_id, first_name, username, language in seeded:
        persona = personas[user_id]
        assert (persona.first_name, persona.username, persona.language_code) == (first_name, username,
                                                                                 language)


def test_each_shop_posts_to_its_owners_channel_where_the_bot_is_admin() -> None:
    channels = {c.id: c for c in default_channels()}
    for shop in SHOPS:
        assert channels[shop.channel_id].owner_id == shop.owner_id
        assert channels[shop.channel_id].bot_admin


def test_the_admin_persona_is_the_bots_admin(tmp_path: Path) -> None:
    assert demo_env(tmp_path, Ports())["SHOPBOT_ADMIN_IDS"] == f"[{ADMIN_ID}]"
    assert [p.label for p in default_personas() if p.id == ADMIN_ID] == ["Admin"]
