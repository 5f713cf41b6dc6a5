"""The web application: ``create_app(settings)`` builds it; ``healthcode serve`` runs it with uvicorn.

Routes (details in each module):

- :mod:`~healthcode.web.public` — ``GET /``, ``GET /healthz``, ``GET /trust-list``
- :mod:`~healthcode.web.verifier` — ``POST /verify``, ``GET /verifier``
- :mod:`~healthcode.web.holder` — ``/holder/sign-in``, ``/holder``, ``/holder/code``, ``/holder/sign-out``
- :mod:`~healthcode.web.trips` — ``/trips`` (the trip card, 通信行程卡, behind an SMS code)
- :mod:`~healthcode.web.admin` — ``GET /admin``
- ``/static/…`` — the pages' CSS and scripts (vendored QR libraries in ``static/vendor``)

Errors are mapped to HTTP in :mod:`healthcode.web.errors` only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import healthcode
from healthcode.clock import Clock
from healthcode.config import Settings
from healthcode.errors import HealthCodeError, PayloadTooLarge
from healthcode.holders.otp import DevSmsSender, OtpPolicy, OtpService, SmsSender
from healthcode.service import HealthCode
from healthcode.web import admin, holder, public, trips, verifier
from healthcode.web.context import WebState
from healthcode.web.errors import error_response, install_error_handlers
from healthcode.web.i18n import I18n

log = logging.getLogger("healthcode.web")

STATIC_DIR = Path(__file__).with_name("static")
#: Room for multipart framing on top of ``settings.max_upload_bytes``, in bytes.
MULTIPART_OVERHEAD = 64 * 1024

#: Scripts and styles come from this server only; the QR canvas and the camera
#: need ``data:``/``blob:`` images and ``mediastream:`` video.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"permissions-policy", b"camera=(self), microphone=(), geolocation=()"),
]


class BodyLimitMiddleware:
    """Refuses request bodies larger than ``limit`` bytes with 413 (header or stream)."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers") or []:
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.limit:
                    from starlette.requests import Request

                    exc = PayloadTooLarge(f"request body larger than {self.limit} bytes")
                    await error_response(Request(scope), exc)(scope, receive, send)
                    return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(f"request body larger than {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


class SecurityHeadersMiddleware:
    """Adds CSP, nosniff, no-referrer and frame denial to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    service: HealthCode | None = None,
    sms: SmsSender | None = None,
    otp_policy: OtpPolicy | None = None,
) -> FastAPI:
    """Build the web application.

    :param clock: time source (default: the service's, i.e. the system clock).
    :param service: an existing facade (default: ``HealthCode(settings, clock=clock)``,
        which opens and migrates the database; closed again at shutdown).
    :param sms: SMS delivery for sign-in codes (default: :class:`DevSmsSender`
        writing to the ``outbox`` table and the file ``settings.outbox``).
    :raises ConfigError: unsafe settings (e.g. production with the development master key),
        or a configured file that cannot be used: ``HEALTHCODE_DCC_TRUST``,
        ``HEALTHCODE_SHC_ISSUER_KEYS``, ``HEALTHCODE_DCC_RULES``
        (:meth:`HealthCode.check_server_config`; what was loaded is logged).
    """
    owned = service is None
    svc = service if service is not None else HealthCode(settings, clock=clock)
    try:
        sources = svc.check_server_config()
    except HealthCodeError:
        if owned:
            svc.close()
        raise
    for source in sources:
        log.info("foreign trust: %s", source.describe())
    if owned:
        # verifications are audited in batches, so they never wait for the write lock
        svc.buffer_verification_audit()
    if sms is None:
        if settings.is_prod:
            log.warning("production mode with the development SMS sender: codes go to the outbox")
        sms = DevSmsSender(svc.db, settings.outbox)
    otp = OtpService(
        svc.db,
        svc.keys,
        master_key=settings.master_key,
        sender=sms,
        clock=clock or svc.clock,
        policy=otp_policy,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            svc.close()

    app = FastAPI(
        title="healthcode",
        version=healthcode.__version__,
        description="Electronic health passes: holder pages, verification, trust list.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads scripts from a CDN, which the CSP (and no network) forbid
        redoc_url=None,
    )
    app.state.hc = WebState(settings=settings, service=svc, otp=otp, i18n=I18n.load())
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_upload_bytes + MULTIPART_OVERHEAD)
    app.add_middleware(SecurityHeadersMiddleware)
    for module in (public, verifier, holder, trips, admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


__all__ = ["create_app"]
