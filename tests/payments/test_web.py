"""The web endpoints around Telegram: the webhook's secret, health, the way back to the chat."""

from __future__ import annotations

import httpx

from bot.web import SECRET_HEADER, build_web_app

UPDATE = {"update_id": 77, "message": {"message_id": 1, "date": 1_767_600_000, "text": "/start",
                                       "chat": {"id": 5, "type": "private"},
                                       "from": {"id": 5, "is_bot": False, "first_name": "Ling"}}}


def client(shop) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    app = build_web_app(shop.services, shop.app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bot")


async def test_webhook_refuses_requests_without_the_secret_token(shop):
    secret = shop.services.settings.webhook_secret
    async with client(shop) as http:
        missing = await http.post("/telegram/webhook", json=UPDATE)
        wrong = await http.post("/telegram/webhook", json=UPDATE, headers={SECRET_HEADER: secret + "x"})
        garbage = await http.post("/telegram/webhook", content=b"{not json", headers={SECRET_HEADER: secret})
        assert shop.app.update_queue.qsize() == 0
        right = await http.post("/telegram/webhook", json=UPDATE, headers={SECRET_HEADER: secret})

    assert (missing.status_code, wrong.status_code, garbage.status_code) == (403, 403, 400)
    assert right.status_code == 200
    queued = shop.app.update_queue.get_nowait()
    assert queued.update_id == 77 and queued.message.text == "/start"


async def test_health_and_the_return_page_link_back_to_the_bot(shop):
    async with client(shop) as http:
        health = await http.get("/healthz")
        back = await http.get("/payments/return", params={"out_trade_no": "SB00000404"})

    assert health.json() == {"ok": True}
    assert back.status_code == 200 and "https://t.me/shopbot_demo_bot" in back.text
    assert "正在确认你的付款" in back.text


async def test_the_return_page_links_to_the_configured_chat(shop):
    shop.services.settings = shop.services.settings.model_copy(update={"chat_url": "http://127.0.0.1:8081/"})
    async with client(shop) as http:
        back = await http.get("/payments/return", params={"out_trade_no": "SB00000404"})

    assert 'href="http://127.0.0.1:8081/"' in back.text and "t.me" not in back.text


async def test_notifications_are_refused_when_no_gateway_is_configured(shop):
    async with client(shop) as http:
        answer = await http.post("/payments/notify", data={"out_trade_no": "SB1", "sign": "x"})
        pay = await http.get("/pay/1.0000000000000000")

    assert answer.text != "success"
    assert pay.status_code == 404


async def test_the_webhook_shortcut_answers_as_starlette_did(shop):
    """``WebApp`` sends the webhook's POSTs past Starlette; a GET, a slash more, get Starlette's answers."""
    secret = shop.services.settings.webhook_secret
    async with client(shop) as http:
        looked = await http.get("/telegram/webhook")
        slashed = await http.post("/telegram/webhook/", json=UPDATE, headers={SECRET_HEADER: secret},
                                  follow_redirects=False)
        taken = await http.post("/telegram/webhook", json=UPDATE, headers={SECRET_HEADER: secret})

    assert looked.status_code == 405 and looked.headers["allow"] == "POST"
    assert slashed.status_code == 307 and slashed.headers["location"] == "http://bot/telegram/webhook"
    assert taken.status_code == 200 and taken.content == b"" and taken.headers["content-length"] == "0"
