"""What every route needs: the application state, the request's locale, page rendering.

Routes get the state with :func:`state`; pages are rendered with :func:`page`,
which adds the common context (locale, messages for the page scripts, language
links) and remembers a ``?lang=`` choice in a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse

from healthcode.config import Settings
from healthcode.holders.otp import OtpService
from healthcode.service import HealthCode
from healthcode.web.i18n import DEFAULT_LOCALE, LANG_COOKIE, I18n, negotiate

SESSION_COOKIE = "hc_session"
#: Response headers of every page that shows personal data or a live code.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class WebState:
    """Everything the routes share, stored as ``app.state.hc``."""

    settings: Settings
    service: HealthCode
    otp: OtpService
    i18n: I18n


def state(conn: HTTPConnection) -> WebState:
    st: WebState = conn.app.state.hc
    return st


def requested_locale(conn: HTTPConnection) -> str | None:
    """The locale asked for by ``?lang=`` on this request, if any (and supported)."""
    return negotiate(conn.query_params.get("lang"))


def locale_of(conn: HTTPConnection) -> str:
    """``?lang=`` first, then the ``lang`` cookie, then zh-CN (zh-CN first, whatever the
    browser's Accept-Language: the service is Chinese, English is a choice)."""
    return requested_locale(conn) or negotiate(conn.cookies.get(LANG_COOKIE)) or DEFAULT_LOCALE


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site.

    ``Sec-Fetch-Site: cross-site`` is refused; without that header, an ``Origin``
    naming another host is refused. ``Origin: null`` (sent under our no-referrer
    policy) and requests without either header (scripts, old browsers) pass: the
    session cookie is SameSite=Lax anyway; this stops another site from signing
    a visitor in or out.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site != "cross-site"
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.split("://", 1)[-1] == request.headers.get("host", "")


def client_address(conn: HTTPConnection) -> str:
    """The peer address (rate limiting). Behind a proxy, run uvicorn with ``--proxy-headers``."""
    return conn.client.host if conn.client else "unknown"


def page(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    lang_path: str | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``template`` in the request's locale as an HTML response.

    :param lang_path: where the language links go (default: this page for GET, else ``/``).
    """
    st = state(request)
    loc = locale_of(request)
    html = st.i18n.render(
        loc,
        template,
        request_path=lang_path or (request.url.path if request.method == "GET" else "/"),
        js_messages=st.i18n.keyed(loc),
        msg=lambda key, default=None: (
            st.i18n.message(loc, key) or (key if default is None else default)
        ),
        local_mode=not st.settings.is_prod,
        **context,
    )
    resp = HTMLResponse(html, status_code=status_code, headers=headers)
    chosen = requested_locale(request)
    if chosen is not None and request.cookies.get(LANG_COOKIE) != chosen:
        resp.set_cookie(LANG_COOKIE, chosen, max_age=365 * 86400, samesite="lax", httponly=True)
    return resp
