"""Routes anyone may call: start page, readiness, the signed trust list, SHC issuer key sets
and card revocation lists."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from healthcode.web.context import page, state
from healthcode.web.errors import PAGE_TAG, NotReady

router = APIRouter()


@router.get("/", tags=[PAGE_TAG], response_class=HTMLResponse)
async def index(request: Request) -> HTMLResponse:
    return page(request, "index.html")


@router.get("/healthz", tags=["api"])
async def healthz(request: Request) -> dict[str, Any]:
    """200 ``{"ok": true}`` when the database answers; 503 ``not-ready`` otherwise."""
    try:
        with state(request).service.db.read() as s:
            s.execute(text("SELECT 1"))
    except Exception as exc:
        raise NotReady("database unavailable") from exc
    return {"ok": True}


@router.get("/trust-list", tags=["api"])
async def trust_list(request: Request) -> JSONResponse:
    """The signed national trust list (all issuers' keys, revocations; see ``healthcode trust export``)."""
    body = await run_in_threadpool(state(request).service.trust_list, actor="web")
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=60"})


@router.get("/issuers/{code}/.well-known/jwks.json", tags=["api"])
async def issuer_jwks(request: Request, code: str) -> JSONResponse:
    """The SMART Health Card key set of issuer ``code`` (the cards' ``iss`` is
    ``{HEALTHCODE_PUBLIC_URL}/issuers/{code}``); open to any origin, as the SHC
    specification asks of issuers."""
    body = await run_in_threadpool(state(request).service.issuer_key_set, code)
    return JSONResponse(
        body,
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/issuers/{code}/.well-known/crl/{kid}.json", tags=["api"])
async def issuer_crl(request: Request, code: str, kid: str) -> JSONResponse:
    """The card revocation list of SHC key ``kid`` of issuer ``code``
    (``{"kid", "method": "rid", "ctr", "rids"}``; ``ctr`` is the key's ``crlVersion`` in
    the key set); 404 for a key not in the issuer's key set. Open to any origin."""
    body = await run_in_threadpool(state(request).service.issuer_crl, code, kid)
    return JSONResponse(
        body,
        headers={"Cache-Control": "public, max-age=60", "Access-Control-Allow-Origin": "*"},
    )
