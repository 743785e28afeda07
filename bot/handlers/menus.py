"""Each role's commands: /help lists what this user can do, and Telegram's menus show the same.

Telegram shows a chat the most specific command list set for it, in the
user's language if one was set for it: buyers (everyone) get the default
scope; each admin and each approved merchant gets a list for their own
private chat (``BotCommandScopeChat``) with the buyer's commands and their
role's. Every list is set without a language (in the bot's default language)
and once per language we have. The menus are published at start-up
(``publish_menus``), and again for one user when their role changes: a shop
approved, rejected, suspended or reinstated (``refresh_menu``). A suspended
shop's owner gets the buyers' menu back (their chat's list is deleted).
"""

from __future__ import annotations

import html
import logging

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.commerce import roles
from bot.i18n import Translator
from bot.services import Services
from bot.store.enums import MerchantStatus

log = logging.getLogger(__name__)

# (command, what it does): the order is the menu's. /start and /skip (a step of /newproduct) are left out.
BUYER_COMMANDS = (
    ("orders", "your orders"),
    ("cart", "your cart: check out several items at once"),
    ("addresses", "your delivery addresses"),
    ("wallet", "your wallet: top up, send, pay bills"),
    ("send", "send money from your wallet: /send @name 10"),
    ("following", "shops you follow"),
    ("apply", "open a shop"),
    ("language", "change language"),
    ("help", "what you can do here"),
    ("cancel", "stop what you are doing"),
)
MERCHANT_COMMANDS = (
    ("newproduct", "add a product"),
    ("products", "your products: edit, pause, post"),
    ("sales", "orders to ship, refund requests"),
    ("post", "post a product card in your channel"),
    ("linkchannel", "link your channel: /linkchannel @name"),
    ("followup", "write to your followers: /followup text"),
    ("shipping", "your shipping fee: /shipping 8 100"),
    ("balance", "your balance and when it is paid out"),
    ("payouts", "your payouts"),
    ("withdraw", "withdraw what is available"),
    ("payee", "the account your payouts go to"),
    ("plan", "your settlement plan: T+15 or T+0"),
    ("stats", "your shop's figures"),
)
ADMIN_COMMANDS = (
    ("applications", "shop applications to review"),
    ("merchants", "shops: suspend or reinstate"),
    ("stats", "the platform's figures"),
)
COMMANDS = {roles.BUYER: BUYER_COMMANDS, roles.MERCHANT: MERCHANT_COMMANDS, roles.ADMIN: ADMIN_COMMANDS}
HEADINGS = {roles.BUYER: "Shopping:", roles.MERCHANT: "Your shop {name}:", roles.ADMIN: "Admin:"}
# A shop that gives no merchant commands: why, on /help.
SHOP_WAITS = {
    MerchantStatus.PENDING: "Your application for {name} is waiting for an admin's review; "
                            "your shop's commands appear here once it is approved.",
    MerchantStatus.REJECTED: "Your application for {name} was rejected. You may apply again with /apply.",
    MerchantStatus.SUSPENDED: "Your shop {name} is suspended: its commands are paused. "
                              "Please contact the platform.",
}


def commands_of(role_names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The menu of someone with these roles: the buyers' commands, then each role's (each command once).

    A merchant has a shop already: /apply is not theirs.
    """
    seen: dict[str, str] = {}
    for role in role_names:
        for command, about in COMMANDS[role]:
            if not (command == "apply" and roles.MERCHANT in role_names):
                seen.setdefault(command, about)
    return list(seen.items())


def help_text(standing: roles.Standing, t: Translator) -> str:
    """What this user can do, one section per role, in their language."""
    sections = []
    has_shop = standing.shop_status not in (None, MerchantStatus.REJECTED)  # /apply is for the others
    for role in standing.roles:
        heading = t(HEADINGS[role], name=html.escape(standing.shop_name or ""))
        lines = "".join(f"\n/{command} — {t(about)}" for command, about in COMMANDS[role]
                        if not (has_shop and command == "apply"))
        sections.append(f"<b>{heading}</b>{lines}")
    if standing.shop_status in SHOP_WAITS:
        sections.append(t(SHOP_WAITS[standing.shop_status], name=html.escape(standing.shop_name or "")))
    return "\n\n".join(sections)


async def _set(bot: Bot, menu: list[tuple[str, str]], scope: BotCommandScopeDefault | BotCommandScopeChat,
               services: Services) -> None:
    """One menu in every language: without a language (the default one), then per language."""
    default = services.settings.default_language
    for code, lang in ((None, default), *((lang, lang) for lang in services.catalogs)):
        t = Translator(lang, services.catalogs)
        await bot.set_my_commands([BotCommand(c, t(about)) for c, about in menu], scope=scope,
                                  language_code=code)


async def _publish(bot: Bot, standing: roles.Standing, services: Services) -> None:
    """This user's own menu, or the default one (their chat's lists deleted) if they are only a buyer."""
    scope = BotCommandScopeChat(standing.user_id)
    if standing.roles != (roles.BUYER,):
        await _set(bot, commands_of(standing.roles), scope, services)
        return
    for code in (None, *services.catalogs):
        await bot.delete_my_commands(scope=scope, language_code=code)


async def publish_menus(bot: Bot, services: Services) -> None:
    """Every menu: the buyers' (default scope), each admin's and each merchant's; at start-up."""
    await _set(bot, commands_of((roles.BUYER,)), BotCommandScopeDefault(), services)
    standings = await services.run(lambda s: roles.standings_beyond_buyer(s, admin_ids=services.admin_ids))
    for standing in standings:
        try:
            await _publish(bot, standing, services)
        except TelegramError:  # e.g. a merchant who never opened the chat: the others still get theirs
            log.warning("could not publish the command menu of %s", standing.user_id, exc_info=True)


async def refresh_menu(bot: Bot, services: Services, user_id: int) -> None:
    """Publish one user's menu again after their role changed; a failure is logged, the change stands."""
    standing = await services.run(lambda s: roles.standing_of(s, user_id, admin_ids=services.admin_ids))
    try:
        await _publish(bot, standing, services)
    except TelegramError:  # the next start-up publishes it again
        log.warning("could not refresh the command menu of %s", user_id, exc_info=True)
