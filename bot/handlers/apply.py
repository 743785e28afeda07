"""/apply: open a shop. Kind, name, description, contact, payout account and its holder, registration no.

The conversation keeps only the draft (UI state); ``merchants.apply_merchant``
validates everything again and decides: an enterprise the business registry
confirms (the bot asks it, ``bot.payments.registry``) is approved at once when
the rules say so; everyone else waits for an admin, who is told through the outbox.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks
from bot.commerce import merchants, payees, verification
from bot.commerce.money import clean_text
from bot.context import ShopContext
from bot.handlers.errors import answers_errors
from bot.handlers.menus import refresh_menu
from bot.handlers.merchant import button, conversation, decoded_args, say
from bot.payments import registry
from bot.store.enums import MerchantKind, MerchantStatus

APPLY_KIND = callbacks.action("apply_kind")
KINDS = {1: MerchantKind.ENTERPRISE, 2: MerchantKind.INDIVIDUAL}
KIND, NAME, DESCRIPTION, CONTACT, PAYEE, PAYEE_NAME, REGISTRATION = range(7)
TEXT = filters.TEXT & ~filters.COMMAND

STATUS_TEXTS = {
    MerchantStatus.PENDING: "Your application is waiting for an admin's review.",
    MerchantStatus.APPROVED: "You already have a shop. Add products with /newproduct.",
    MerchantStatus.SUSPENDED: "Your shop is suspended. Please contact the platform.",
}


async def start_apply(update: Update, context: ShopContext) -> int | None:
    """/apply: ask what kind of seller the user is, unless they already have a shop."""
    user_id = update.effective_user.id
    existing = await context.services.run(lambda s: merchants.merchant_of(s, user_id))
    if existing is not None and existing.status in STATUS_TEXTS:
        await say(update, context.t(STATUS_TEXTS[existing.status]))
        return ConversationHandler.END
    context.user_data["apply"] = {}
    t = context.t
    keyboard = InlineKeyboardMarkup([[button(t("Enterprise"), APPLY_KIND, 1),
                                      button(t("Individual"), APPLY_KIND, 2)]])
    await say(update, t("Let's open your shop. Are you an enterprise or an individual? (/cancel to stop)"),
              reply_markup=keyboard)
    return KIND


async def pick_kind(update: Update, context: ShopContext) -> int | None:
    """A kind button: remember it and ask for the shop's name."""
    query = update.callback_query
    kind = KINDS.get(next(iter(decoded_args(update)), 0))
    draft = context.user_data.get("apply")
    if kind is None or draft is None:
        await query.answer(context.t("This button is no longer valid."))
        return None
    draft["kind"] = kind
    await query.answer()
    await say(update, context.t("Your shop's name? (2 to 64 characters)"))
    return NAME


async def kind_by_text(update: Update, context: ShopContext) -> None:
    """Text where a button was expected."""
    await say(update, context.t("Please choose with the buttons above, or /cancel."))


@answers_errors
async def got_name(update: Update, context: ShopContext) -> int:
    """The shop's name, checked (length, not a verified shop's) before we go on."""
    name = clean_text(update.message.text, field="shop_name", max_chars=64, min_chars=2)
    owner_id = update.effective_user.id
    await context.services.run(lambda s: verification.refuse_copied_name(s, name=name, owner_id=owner_id))
    context.user_data["apply"]["name"] = name
    await say(update, context.t("Describe your shop in a few words (at most 700 characters)."))
    return DESCRIPTION


@answers_errors
async def got_description(update: Update, context: ShopContext) -> int:
    """The shop's description."""
    context.user_data["apply"]["description"] = clean_text(
        update.message.text, field="description", max_chars=700, min_chars=0)
    await say(update, context.t("How can buyers reach you? (a phone number, an email or a @username)"))
    return CONTACT


@answers_errors
async def got_contact(update: Update, context: ShopContext) -> int:
    """The contact; then where the shop is paid."""
    context.user_data["apply"]["contact"] = clean_text(update.message.text, field="contact", max_chars=128,
                                                       min_chars=2)
    await say(update, context.t("Where should we pay you? Your Alipay account: the email address or the "
                                "mainland mobile number you log in with."))
    return PAYEE


@answers_errors
async def got_payee(update: Update, context: ShopContext) -> int:
    """The payout account (an Alipay logon id), checked as it comes."""
    context.user_data["apply"]["payout_account"] = payees.validate_account(update.message.text)
    await say(update, context.t("The account holder's real name, as Alipay shows it? "
                                "Payouts to another name are refused."))
    return PAYEE_NAME


@answers_errors
async def got_payee_name(update: Update, context: ShopContext) -> int | None:
    """The holder's real name; enterprises go on to the registration number."""
    draft = context.user_data["apply"]
    draft["payout_name"] = payees.validate_name(update.message.text)
    if draft["kind"] == MerchantKind.ENTERPRISE:
        await say(update, context.t("Your business registration number (unified social credit code)?"))
        return REGISTRATION
    return await submit(update, context, None)


@answers_errors
async def got_registration(update: Update, context: ShopContext) -> int | None:
    """The registration number; the commerce core checks its format."""
    return await submit(update, context, update.message.text)


async def submit(update: Update, context: ShopContext, registration_no: str | None) -> int:
    """Ask the registry about the number, file the application and say what happens next."""
    draft, services = context.user_data["apply"], context.services
    user_id = update.effective_user.id
    record = await registry.look_up(services.settings, registration_no)
    now = services.clock.now()
    merchant = await services.run(lambda s: merchants.apply_merchant(
        s, owner_id=user_id, kind=draft["kind"], name=draft["name"], description=draft["description"],
        contact=draft["contact"], registration_no=registration_no, rules=services.rules, now=now,
        registry=record, admin_ids=tuple(sorted(services.admin_ids)),
        payout_account=draft["payout_account"], payout_name=draft["payout_name"]))
    context.user_data.pop("apply", None)
    name = html.escape(merchant.name)
    if merchant.status == MerchantStatus.APPROVED:
        await refresh_menu(context.bot, services, user_id)
        text = context.t("Your shop <b>{name}</b> is open. Add a product with /newproduct.", name=name)
    else:
        text = context.t("Thanks! Your application for <b>{name}</b> is waiting for an admin's review. "
                         "We'll tell you here.", name=name)
    await say(update, text, parse_mode=ParseMode.HTML)
    return ConversationHandler.END


def register(application: Application) -> None:
    """Add the /apply conversation."""
    text = [MessageHandler(TEXT, kind_by_text)]
    application.add_handler(conversation(
        entry_points=[CommandHandler("apply", start_apply, filters.ChatType.PRIVATE)],
        states={
            KIND: [CallbackQueryHandler(pick_kind, pattern=callbacks.pattern(APPLY_KIND)), *text],
            NAME: [MessageHandler(TEXT, got_name)],
            DESCRIPTION: [MessageHandler(TEXT, got_description)],
            CONTACT: [MessageHandler(TEXT, got_contact)],
            PAYEE: [MessageHandler(TEXT, got_payee)],
            PAYEE_NAME: [MessageHandler(TEXT, got_payee_name)],
            REGISTRATION: [MessageHandler(TEXT, got_registration)],
        },
        name="apply",
    ))
