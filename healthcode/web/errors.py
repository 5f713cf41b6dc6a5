"""The one place where exceptions become HTTP responses.

Every error leaves the server in one JSON shape (:meth:`HealthCodeError.to_dict`)::

    {"ok": false, "status": 422, "code": "invalid-input", "message": "..."}

or, for a page route (tagged ``"pages"``; for an unknown path, a client that
accepts ``text/html``), as an HTML page that says the same in the reader's
language. The mapping:

- :class:`~healthcode.errors.HealthCodeError` → its ``status`` and ``code``;
- request validation errors (FastAPI) and malformed bodies → 422 ``invalid-input``;
- unknown routes → 404 ``not-found``; a wrong method → 405 ``method-not-allowed``;
- anything else → 500 ``internal-error``, logged with its traceback, never sent.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthcode.errors import (
    AuthError,
    HealthCodeError,
    InputError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
)
from healthcode.web.context import locale_of, page, state

log = logging.getLogger("healthcode.web")


class MethodNotAllowed(HealthCodeError):
    code = "method-not-allowed"
    status = 405


class NotReady(HealthCodeError):
    """The server cannot serve yet (database unreachable)."""

    code = "not-ready"
    status = 503


class BadRequest(InputError):
    """A request the server cannot read at all (HTTP-level problems)."""

    code = "bad-request"
    status = 400


class InternalError(HealthCodeError):
    """Stands in for an unexpected exception: its text and traceback stay in the log."""

    code = "internal-error"
    status = 500


class SignInRequired(AuthError):
    """A holder route without a live session."""

    code = "sign-in-required"


class CrossSiteRequest(HealthCodeError):
    """A form posted from another site (``Origin`` differs from this server)."""

    code = "cross-site-request"
    status = 403


class AdminTokenRequired(AuthError):
    """The admin page in production without the right bearer token."""

    code = "admin-token-required"


#: Extra response headers per error class.
_HEADERS: dict[type[HealthCodeError], dict[str, str]] = {
    AdminTokenRequired: {"WWW-Authenticate": 'Bearer realm="healthcode-admin"'},
}

#: Route tag of the HTML pages (their errors are pages too).
PAGE_TAG = "pages"


def wants_html(scope: Scope) -> bool:
    """Whether an error on this request should be an HTML page."""
    route = scope.get("route")
    if route is not None:
        return PAGE_TAG in (getattr(route, "tags", None) or [])
    accept = ""
    for k, v in scope.get("headers") or []:
        if k == b"accept":
            accept = v.decode("latin-1")
    return "text/html" in accept


def error_response(request: Request, exc: HealthCodeError) -> Response:
    """The response for ``exc``: the JSON shape, or the error page for page routes."""
    body = exc.to_dict()
    headers = _HEADERS.get(type(exc))
    if not wants_html(request.scope):
        return JSONResponse(body, status_code=exc.status, headers=headers)
    try:
        st = state(request)
        loc = locale_of(request)
        title = (
            st.i18n.message(loc, f"error.{exc.code}")
            or st.i18n.message(loc, f"error.status-{exc.status}")
            or exc.code
        )
        return page(
            request, "error.html", status_code=exc.status, headers=headers, error=body, title=title
        )
    except Exception:  # an error page must never fail: fall back to the JSON shape
        log.exception("error page could not be rendered")
        return JSONResponse(body, status_code=exc.status, headers=headers)


def form_error(request: Request, template: str, exc: HealthCodeError, **context: Any) -> Response:
    """A form page shown again with the error (translated by its code) and the error's status."""
    return page(
        request,
        template,
        status_code=exc.status,
        headers={"Cache-Control": "no-store", **(_HEADERS.get(type(exc)) or {})},
        error=exc.to_dict(),
        **context,
    )


async def _healthcode_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HealthCodeError)  # noqa: S101 - registered for this class only
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message)
    return error_response(request, exc)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
    return error_response(request, InputError("; ".join(parts) or "invalid request"))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this class only
    detail = str(exc.detail) if exc.detail else ""
    err: HealthCodeError
    if exc.status_code == 404:
        err = NotFound(f"no such page: {request.url.path}")
    elif exc.status_code == 405:
        err = MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
    elif exc.status_code == 401:
        err = AuthError(detail or "sign-in required")
    elif exc.status_code == 413:
        err = PayloadTooLarge("request body too large")
    elif exc.status_code == 422:
        err = InputError(detail or "invalid request")
    elif exc.status_code == 429:
        err = RateLimited(detail or "too many requests")
    elif exc.status_code < 500:
        err = BadRequest(detail or "bad request")
    else:
        err = InternalError("internal error")
    resp = error_response(request, err)
    if exc.headers:
        resp.headers.update(exc.headers)
    return resp


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping on ``app`` (and wrap it so no exception escapes unanswered)."""
    app.add_exception_handler(HealthCodeError, _healthcode_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(CatchAllMiddleware)


class CatchAllMiddleware:
    """Turns an unexpected exception into the 500 shape (logged, never sent to the client).

    Starlette's own last-resort handler answers and then re-raises; this one
    answers and stops, so the server logs one traceback and keeps serving.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except HealthCodeError as exc:  # raised outside the router (e.g. by the body limit)
            if started:
                raise
            await error_response(Request(scope), exc)(scope, receive, send)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return
            await error_response(Request(scope), InternalError("internal error"))(
                scope, receive, send
            )
