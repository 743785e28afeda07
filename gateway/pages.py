"""The HTML frame shared by the checkout page, error pages and the console.

Plain HTML and CSS, readable on a phone (viewport meta, large buttons).
Every caller passes already-escaped fragments; ``esc`` is the one escaper.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

STYLE = """
body{font-family:system-ui,-apple-system,sans-serif;margin:0;background:#f2f4f7;color:#1d2129}
main{max-width:32rem;margin:0 auto;padding:1rem}
.wide{max-width:72rem}
.card{background:#fff;border-radius:12px;padding:1.2rem;margin:1rem 0;box-shadow:0 1px 3px #0002}
h1{font-size:1.3rem;margin:.2rem 0 1rem;color:#1677ff}
.amount{font-size:2.2rem;font-weight:700;margin:.5rem 0}
.muted{color:#86909c;font-size:.9rem}
.error{background:#fff1f0;border:1px solid #ffa39e;color:#a8071a;padding:.8rem;border-radius:8px}
.ok{background:#f6ffed;border:1px solid #b7eb8f;color:#135200;padding:.8rem;border-radius:8px}
label.buyer{display:block;padding:.8rem;border:1px solid #d9d9d9;border-radius:8px;margin:.5rem 0}
button,.button{display:block;width:100%;font-size:1.15rem;padding:.9rem;border:0;
 border-radius:8px;margin:.6rem 0;text-align:center;text-decoration:none;box-sizing:border-box}
.pay{background:#1677ff;color:#fff}
.cancel{background:#e5e6eb;color:#1d2129}
table{border-collapse:collapse;width:100%;font-size:.85rem}
td,th{border-bottom:1px solid #e5e6eb;padding:.3rem;text-align:left;vertical-align:top}
"""


def esc(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


def page(title: str, body_html: str, *, status: int = 200, wide: bool = False) -> HTMLResponse:
    """A complete page around an already-escaped body."""
    cls = "wide" if wide else ""
    doc = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f'<body><main class="{cls}">{body_html}</main></body></html>'
    )
    return HTMLResponse(doc, status_code=status)


def error_page(title: str, detail: str, *, status: int = 400) -> HTMLResponse:
    """An error the payer sees in the browser (Alipay shows these for bad page-pay links)."""
    body = f'<div class="card"><h1>{esc(title)}</h1><p class="error">{esc(detail)}</p></div>'
    return page(title, body, status=status)
