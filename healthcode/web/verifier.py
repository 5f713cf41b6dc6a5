"""The verifier: ``POST /verify`` (text or image) and the verifier page.

``POST /verify`` accepts

- ``application/json``: ``{"text": "HP1:…"}`` or ``{"texts": ["shc:/1/2/…", "shc:/2/2/…"]}``
  (the chunks of one multi-part SMART Health Card);
- ``text/plain``: the QR text itself;
- ``multipart/form-data`` with one file field ``image`` (PNG/JPEG; at most
  ``settings.max_upload_bytes``, else 413).

It answers 200 with the verification report (``VerificationReport.to_dict()``)
whatever the verdict — an unreadable image is a report too (``picture-unreadable``).
A request it cannot read is a 422 ``invalid-input`` in the one error shape; the page
shows anything that is not a report (that, a server error, no connection) as "could
not check", never as an invalid credential.

The page names the codes of DCC and SMART Health Card records with
``locales/code-names.json`` (:func:`code_names`): Chinese names for the common EU
value-set codes (English comes from the EU value sets, in the report), and both
languages for the CVX / LOINC / SNOMED codes of SMART Health Cards.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse

from healthcode.credentials.pipeline import clean_scanned_text
from healthcode.errors import InputError, PayloadTooLarge
from healthcode.web.context import locale_of, page, state
from healthcode.web.errors import PAGE_TAG

router = APIRouter()

#: Most chunks of one multi-part card (SMART Health Cards allow far fewer in practice).
MAX_TEXTS = 32
#: Longest QR text accepted, in characters (a version-40 QR holds 4,296 alphanumerics).
MAX_TEXT_CHARS = 8_192
ACTOR = "web"
#: Names of record codes (see the module docstring), with their sources.
CODE_NAMES_FILE = Path(__file__).with_name("locales") / "code-names.json"
#: The language of each page locale in ``code-names.json``'s ``fhir`` entries.
_CODE_NAME_LANG = {"zh_CN": "zh", "en": "en"}
#: Text verifications run at once, on worker threads (one takes up to ~0.2 s of CPU:
#: schema validation, signature, business rules); more wait, and the event loop
#: stays free for other requests. A limiter of their own, so queued image uploads
#: (on Starlette's shared thread pool) do not hold them up, nor they the uploads.
TEXT_VERIFY_THREADS = 4
_TEXT_LIMITER: RunVar[CapacityLimiter] = RunVar("healthcode_verify_text_limiter")


def _text_limiter() -> CapacityLimiter:
    """The text-verification limiter of the running event loop."""
    try:
        return _TEXT_LIMITER.get()
    except LookupError:
        limiter = CapacityLimiter(TEXT_VERIFY_THREADS)
        _TEXT_LIMITER.set(limiter)
        return limiter


@functools.cache
def code_names(locale: str) -> dict[str, dict[str, dict[str, str]]]:
    """The record-code names the page uses in ``locale``.

    :returns: ``{"dcc": {valueSetId: {code: name}}, "fhir": {system: {code: name}}}``;
        ``dcc`` only in Chinese (English names come from the EU value sets, in the report).
    """
    doc = json.loads(CODE_NAMES_FILE.read_text(encoding="utf-8"))
    lang = _CODE_NAME_LANG.get(locale, "en")
    fhir = {
        system: {code: names[lang] for code, names in codes.items() if lang in names}
        for system, codes in doc["fhir"].items()
    }
    return {"dcc": doc["dcc"] if lang == "zh" else {}, "fhir": fhir}


_REQUEST_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"text": {"type": "string", "maxLength": MAX_TEXT_CHARS}},
                        "required": ["text"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {
                            "texts": {
                                "type": "array",
                                "items": {"type": "string", "maxLength": MAX_TEXT_CHARS},
                                "minItems": 1,
                                "maxItems": MAX_TEXTS,
                            }
                        },
                        "required": ["texts"],
                        "additionalProperties": False,
                    },
                ]
            }
        },
        "text/plain": {"schema": {"type": "string"}},
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"image": {"type": "string", "format": "binary"}},
                "required": ["image"],
            }
        },
    },
}
_ERROR = {"description": "the error shape {ok, status, code, message}"}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the verification report, whatever the verdict"},
    413: _ERROR,
    422: _ERROR,
}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{where} must be a string")
    if not value.strip():
        raise InputError(f"{where} is empty")
    if len(value) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(f"{where} is longer than {MAX_TEXT_CHARS} characters")
    return clean_scanned_text(value)  # like the CLI: only a scanner's trailing CR/LF goes


def texts_from_json(raw: bytes) -> list[str]:
    """The QR texts of a JSON body ``{"text": …}`` or ``{"texts": […]}``.

    :raises InputError: malformed JSON, wrong types, both or neither field, unknown fields.
    :raises PayloadTooLarge: a text longer than :data:`MAX_TEXT_CHARS`.
    """
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"malformed JSON: {exc}"[:200]) from exc
    if not isinstance(body, dict):
        raise InputError('the body must be a JSON object: {"text": "…"} or {"texts": ["…"]}')
    unknown = sorted(set(body) - {"text", "texts"})
    if unknown:
        raise InputError(f"unknown field(s): {', '.join(unknown)[:100]}")
    if ("text" in body) == ("texts" in body):
        raise InputError('give exactly one of "text" and "texts"')
    if "text" in body:
        return [_text(body["text"], "text")]
    items = body["texts"]
    if not isinstance(items, list) or not items:
        raise InputError('"texts" must be a non-empty array of strings')
    if len(items) > MAX_TEXTS:
        raise InputError(f'"texts" holds more than {MAX_TEXTS} chunks')
    return [_text(v, f"texts[{i}]") for i, v in enumerate(items)]


async def image_from_form(request: Request, limit: int) -> bytes:
    """Bytes of the ``image`` file field (at most ``limit`` bytes).

    :raises InputError: not multipart, no ``image`` file.
    :raises PayloadTooLarge: a larger file.
    """
    try:
        async with request.form(max_files=1, max_fields=8) as form:
            upload = form.get("image")
            if not isinstance(upload, UploadFile):
                raise InputError('upload the picture as a file field named "image"')
            data = await upload.read(limit + 1)
    except HTTPException as exc:  # malformed multipart (Starlette's 400)
        raise InputError(f"malformed multipart body: {exc.detail}") from exc
    if len(data) > limit:
        raise PayloadTooLarge(f"image larger than {limit} bytes")
    if not data:
        raise InputError("the uploaded image is empty")
    return data


@router.post(
    "/verify",
    tags=["api"],
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses=_RESPONSES,
)
async def verify(request: Request) -> JSONResponse:
    """Verify a code given as text, text chunks or an image; 200 with the report."""
    st = state(request)
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "multipart/form-data":
        data = await image_from_form(request, st.settings.max_upload_bytes)
        # Image decoding takes milliseconds: keep it off the event loop.
        report = await run_in_threadpool(st.service.verify_image, data, actor=ACTOR)
    else:
        raw = await request.body()
        if ctype == "application/json" or ctype.endswith("+json"):
            texts = texts_from_json(raw)
        elif ctype == "text/plain":
            try:
                texts = [_text(raw.decode("utf-8"), "body")]
            except UnicodeDecodeError as exc:
                raise InputError("the text is not UTF-8") from exc
        else:
            raise InputError(
                'send JSON {"text": "…"}, text/plain, or a multipart upload with a field "image"'
            )
        # Off the event loop: a crafted code can cost a tenth of a second or more.
        report = await anyio.to_thread.run_sync(
            functools.partial(st.service.verify, texts, actor=ACTOR), limiter=_text_limiter()
        )
    return JSONResponse(report.to_dict(), headers={"Cache-Control": "no-store"})


@router.get("/verifier", tags=[PAGE_TAG], response_class=HTMLResponse)
async def verifier_page(request: Request) -> HTMLResponse:
    return page(request, "verifier.html", code_names=code_names(locale_of(request)))
