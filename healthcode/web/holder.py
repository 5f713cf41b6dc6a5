"""The holder's own pages: sign-in with a one-time SMS code, the code face, the live token.

Every holder route needs the session cookie (:data:`SESSION_COOKIE`, HttpOnly,
SameSite=Lax, Secure in production): pages redirect to the sign-in form,
``GET /holder/code`` answers 401 in the error shape.

| route | what |
|---|---|
| ``GET /holder/sign-in`` | phone form |
| ``POST /holder/sign-in`` (``phone``) | sends a code; the same answer whether or not the phone is enrolled |
| ``POST /holder/sign-in/verify`` (``phone``, ``code``) | session cookie, 303 to ``/holder`` |
| ``POST /holder/sign-out`` | ends the session |
| ``GET /holder`` | the code face (masked data, colour, reasons, history) |
| ``GET /holder/code`` | JSON ``{"token", "expires_at", "colour", "status_code"}``, a fresh token |
| ``POST /holder/certificates`` (``kind``, ``format``) | issue an e-certificate (电子证照) of the holder's ``vaccination`` or latest ``test`` as ``hc1`` or ``shc`` — or keep the current one (below); 303 to ``/holder#cert-{kind}-{format}`` |
| ``GET /holder/certificates/{kind}.{png,pdf,txt}?format=hc1`` or ``shc`` ``[&id=ID]`` | a rendition of one certificate: QR picture, printable PDF, or the QR text. With ``id``: that certificate (409 ``certificate-not-current`` once it is revoked, expired, superseded or its records changed); without: the current one, issued when there is none |

A holder's *current* certificate of a kind and format is the newest one not
revoked, with a day or more left, whose records, name and birth date are
unchanged and whose key is still active
(:func:`healthcode.ecerts.service.current_row`). Every rendition of it — the QR
on the page, the PNG, the PDF, the text — is that certificate, signed again
with its own ID, times and key: the same text, since signatures are
deterministic (RFC 6979). Only a change makes a new one.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Form, Query
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from healthcode.ecerts.errors import CertificateNotFound
from healthcode.errors import HealthCodeError, InvalidPhone, NotFound
from healthcode.holders.identity import normalise_phone
from healthcode.web.context import (
    NO_STORE,
    SESSION_COOKIE,
    client_address,
    page,
    requested_locale,
    same_origin,
    state,
)
from healthcode.web.errors import PAGE_TAG, CrossSiteRequest, SignInRequired, form_error

router = APIRouter()
ACTOR = "holder"

Phone = Annotated[str, Form(max_length=32)]
Code = Annotated[str, Form(max_length=16)]


def _check_origin(request: Request) -> None:
    if not same_origin(request):
        raise CrossSiteRequest("this form must be sent from this site")


def _signed_in(request: Request) -> str | None:
    return state(request).otp.holder_for(request.cookies.get(SESSION_COOKIE))


def _to_sign_in(request: Request | None = None) -> RedirectResponse:
    """Redirect to the sign-in form, keeping a ``?lang=`` the request asked for."""
    lang = requested_locale(request) if request is not None else None
    target = "/holder/sign-in" + (f"?lang={lang}" if lang else "")
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


def _display_phone(raw: str) -> str:
    try:
        return normalise_phone(raw)
    except InvalidPhone:
        return raw.strip()[:32]


def _signin_page(request: Request, *, step: str, phone: str) -> Response:
    minutes = state(request).otp.policy.code_ttl_seconds // 60
    return page(
        request,
        "signin.html",
        step=step,
        phone=phone,
        error=None,
        code_minutes=minutes,
        lang_path="/holder/sign-in",
        headers=NO_STORE,
    )


def _signin_error(request: Request, exc: HealthCodeError, *, step: str, phone: str) -> Response:
    minutes = state(request).otp.policy.code_ttl_seconds // 60
    return form_error(
        request,
        "signin.html",
        exc,
        step=step,
        phone=_display_phone(phone),
        code_minutes=minutes,
        lang_path="/holder/sign-in",
    )


@router.get("/holder/sign-in", tags=[PAGE_TAG], response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    if _signed_in(request):
        return RedirectResponse("/holder", status_code=303)
    return _signin_page(request, step="phone", phone="")


@router.post("/holder/sign-in", tags=[PAGE_TAG], response_class=HTMLResponse)
def request_code(request: Request, background: BackgroundTasks, phone: Phone) -> Response:
    """Send a sign-in code. Unknown numbers get exactly the same page (no SMS is sent)."""
    _check_origin(request)
    st = state(request)
    try:
        sms = st.otp.request_code(phone, client=client_address(request))
    except HealthCodeError as exc:
        return _signin_error(request, exc, step="phone", phone=phone)
    # Delivered after the answer, so its timing says nothing about enrolment.
    background.add_task(st.otp.deliver, sms)
    return _signin_page(request, step="code", phone=normalise_phone(phone))


@router.post("/holder/sign-in/verify", tags=[PAGE_TAG], response_class=HTMLResponse)
def verify_code(request: Request, phone: Phone, code: Code) -> Response:
    _check_origin(request)
    st = state(request)
    try:
        signed = st.otp.sign_in(phone, code)
    except InvalidPhone as exc:
        return _signin_error(request, exc, step="phone", phone=phone)
    except HealthCodeError as exc:
        return _signin_error(request, exc, step="code", phone=phone)
    resp = RedirectResponse("/holder", status_code=303, headers=NO_STORE)
    resp.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=st.otp.policy.session_ttl_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=st.settings.is_prod,
    )
    return resp


@router.post("/holder/sign-out", tags=[PAGE_TAG], response_class=HTMLResponse)
def sign_out(request: Request) -> Response:
    _check_origin(request)
    state(request).otp.sign_out(request.cookies.get(SESSION_COOKIE))
    resp = _to_sign_in()
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return resp


@router.get("/holder", tags=[PAGE_TAG], response_class=HTMLResponse)
def holder_page(request: Request) -> Response:
    st = state(request)
    holder_id = _signed_in(request)
    if holder_id is None:
        return _to_sign_in(request)
    try:
        view = st.service.holder_view(holder_id, actor=ACTOR)
    except NotFound:  # the holder's data was destroyed since sign-in
        st.otp.sign_out(request.cookies.get(SESSION_COOKIE))
        raise
    return page(request, "holder.html", view=view, now=st.service.now(), headers=NO_STORE)


@router.get("/holder/code", tags=["api"], responses={401: {"description": "no session"}})
async def holder_code(request: Request) -> JSONResponse:
    """A fresh signed token for the signed-in holder (the page draws it as a QR)."""
    st = state(request)
    holder_id = await run_in_threadpool(_signed_in, request)
    if holder_id is None:
        raise SignInRequired("sign in first: POST /holder/sign-in")
    body: dict[str, Any] = await run_in_threadpool(st.service.issue_code, holder_id, actor=ACTOR)
    return JSONResponse(body, headers=NO_STORE)


CertificateKind = Literal["vaccination", "test"]
CertificateFormat = Literal["hc1", "shc"]


@router.post("/holder/certificates", tags=[PAGE_TAG], response_class=HTMLResponse)
async def issue_holder_certificate(
    request: Request,
    kind: Annotated[CertificateKind, Form()],
    format: Annotated[CertificateFormat, Form()],
) -> Response:
    """Issue an e-certificate of the signed-in holder — or keep the current one, so a second
    click (or a reload of the form) signs nothing new — and go back to the page."""
    _check_origin(request)
    st = state(request)
    holder_id = await run_in_threadpool(_signed_in, request)
    if holder_id is None:
        raise SignInRequired("sign in first: POST /holder/sign-in")
    await run_in_threadpool(
        st.service.issue_certificate, holder_id, kind=kind, format=format, actor=ACTOR, reuse=True
    )
    return RedirectResponse(f"/holder#cert-{kind}-{format}", status_code=303, headers=NO_STORE)


@router.get(
    "/holder/certificates/{kind}.{ext}",
    tags=[PAGE_TAG],
    responses={
        401: {"description": "no session"},
        404: {"description": "no such record or certificate"},
        409: {"description": "the certificate asked for is no longer current"},
    },
)
async def holder_certificate(
    request: Request,
    kind: CertificateKind,
    ext: Literal["png", "pdf", "txt"],
    format: CertificateFormat = "hc1",
    id: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """A rendition of the signed-in holder's e-certificate: certificate ``id``, or without it
    the current one of ``kind`` and ``format`` (issued when there is none). Each rendition
    of a certificate is the same text."""
    st = state(request)
    holder_id = await run_in_threadpool(_signed_in, request)
    if holder_id is None:
        raise SignInRequired("sign in first: POST /holder/sign-in")
    if id is not None:
        cert = await run_in_threadpool(st.service.show_certificate, holder_id, id, actor=ACTOR)
        if (cert.kind, cert.format) != (kind, format):
            raise CertificateNotFound(f"you have no {kind} certificate {id[:40]} in {format}")
    else:
        cert = await run_in_threadpool(
            st.service.issue_certificate, holder_id, kind=kind, format=format, actor=ACTOR,
            reuse=True,
        )  # fmt: skip
    name = f"healthcode-{kind}-{format}.{ext}"
    headers = {
        **NO_STORE,
        "Content-Disposition": f'inline; filename="{name}"',
        "X-Certificate-Id": cert.id,
    }
    if ext == "txt":
        return Response(cert.text, media_type="text/plain; charset=utf-8", headers=headers)
    if ext == "png":
        from healthcode.credentials.qr import encode_png

        png = await run_in_threadpool(encode_png, cert.text, scale=6)
        return Response(png, media_type="image/png", headers=headers)
    pdf = await run_in_threadpool(st.service.certificate_pdf, cert)
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(pdf, media_type="application/pdf", headers=headers)
