"""The commerce core: merchants, catalog, orders, payments, refunds, ledger.

It knows nothing of Telegram, HTTP or APScheduler; the bot, the scheduler and
any other front end call it. Every command is an async function that takes
the caller's ``AsyncSession`` (the unit of work, see ``bot.store.db``) and
never commits: the caller commits once, so an order, its stock and its ledger
journal change together or not at all. Time comes in as ``now`` and limits as
``Rules``; refusals are the named exceptions of ``errors``.

Aggregates and the invariants they keep:

- ``merchants``: only an approved merchant sells; T+0 needs the deposit.
- ``catalog``: prices positive and bounded, stock never negative.
- ``variants``: a product's options, each never oversold on its own row;
  the product's stock is the sum of its offered options', its price the lowest.
- ``orders``: never oversold; stock + held + sold = what the merchant set
  (per option too); one unpaid order per buyer and product (per buyer and
  option, for a product sold by option); transitions are atomic; an unpaid
  order past its time to pay is expired wherever it is read (``expiry``).
- ``payments`` / ``refunds``: each gateway event counts once (unique keys);
  amounts must match; a late payment never leaves a buyer paid for nothing.
- ``ledger``: every movement is one balanced journal, the ledger sums to
  zero, floors (deposit, wallet) hold.
- ``outbox``: each notice is written with the change it reports.
- ``wallet`` (a package: ``payments``, ``funding``, ``top_ups``, ``billing``, ``withdrawals``): a
  user's wallet never below zero; each request moves money once per
  idempotency key; money on its way out is held until the other side answers;
  a top-up paid after its time to pay is refunded, never credited.
"""
