"""The trip-card page (通信行程卡): a phone number, an SMS code, then the card.

| route | what |
|---|---|
| ``GET /trips`` (``?date=YYYY-MM-DD``) | the card, with a live trip-card session (or a holder session: the holder's own phone); else the phone form |
| ``POST /trips`` (``phone``) | sends a ``trip-card`` code to the number (any well-formed number, as the carriers' service did) |
| ``POST /trips/verify`` (``phone``, ``code``) | a 10-minute session cookie (:data:`TRIP_COOKIE`, path ``/trips``), 303 to ``/trips`` |
| ``POST /trips/sign-out`` | ends the trip-card session |

The card shows the masked phone, "updated at" (the newest record the card used),
the cities with a stay of 4 h or more (a star on cities with a listed medium/high
risk area), the footnotes, places abroad, the colour with its label and its
meaning under the policy of the date, and the policy id. The query date defaults
to today (Asia/Shanghai) while the service ran; after it ended (2022-12-13) to the
phone's newest stored card. Codes: :class:`~healthcode.holders.otp.OtpService`
with purpose ``trip-card`` (hashed, 5 minutes, 5 attempts, rate limits shared with
sign-in).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from healthcode.errors import HealthCodeError, InvalidDate, InvalidPhone, NotFound
from healthcode.holders.identity import normalise_phone
from healthcode.holders.otp import PURPOSE_TRIP_CARD
from healthcode.trips.model import mask_phone
from healthcode.web.context import (
    NO_STORE,
    SESSION_COOKIE,
    client_address,
    locale_of,
    page,
    same_origin,
    state,
)
from healthcode.web.errors import PAGE_TAG, CrossSiteRequest, form_error

router = APIRouter()
ACTOR = "trip-page"
TRIP_COOKIE = "hc_trip"

Phone = Annotated[str, Form(max_length=32)]
Code = Annotated[str, Form(max_length=16)]


def _check_origin(request: Request) -> None:
    if not same_origin(request):
        raise CrossSiteRequest("this form must be sent from this site")


def _form(
    request: Request, *, step: str, phone: str, error: HealthCodeError | None = None
) -> Response:
    minutes = state(request).otp.policy.code_ttl_seconds // 60
    context: dict[str, Any] = {
        "step": step, "phone": phone, "code_minutes": minutes, "lang_path": "/trips", "view": None,
    }  # fmt: skip
    if error is not None:
        return form_error(request, "trips.html", error, **context)
    return page(request, "trips.html", error=None, headers=NO_STORE, **context)


def _query_date(request: Request) -> date | None:
    """``?date=`` as a date. :raises InvalidDate: not YYYY-MM-DD."""
    raw = request.query_params.get("date")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise InvalidDate(f"not a date (YYYY-MM-DD): {raw[:20]!r}") from exc


def _card_view(request: Request, card: dict[str, Any]) -> dict[str, Any]:
    """What the template needs besides the card: the colour's meaning under its policy."""
    trips = state(request).service.trips
    policy = trips.policies.by_id(card["policy"])
    en = locale_of(request) == "en"
    meanings = {c.colour.value: (c.meaning_en if en else c.meaning_zh) for c in policy.colours}
    return {
        "card": card,
        "meaning": meanings.get(card["colour"], ""),
        "legend": [(c.colour.value, meanings[c.colour.value]) for c in policy.colours],
        "star_policy": policy.star,
        "starred": any(c["star"] for c in card["cities"]),
        "notice": trips.policies.notice_en if en else trips.policies.notice_zh,
    }


@router.get("/trips", tags=[PAGE_TAG], response_class=HTMLResponse)
def trips_page(request: Request) -> Response:
    st = state(request)
    trips = st.service.trips
    who = trips.session_phone(request.cookies.get(TRIP_COOKIE))
    phone: str | None = None
    if who is None:
        holder_id = st.otp.holder_for(request.cookies.get(SESSION_COOKIE))
        if holder_id is not None:
            try:
                phone = trips.holder_phone(holder_id, actor=ACTOR)
            except NotFound:
                phone = None
            if phone is not None:
                who = (st.service.keys.phone_key(phone), mask_phone(phone))
    if who is None:
        return _form(request, step="phone", phone="")
    index, masked = who
    error: HealthCodeError | None = None
    view: dict[str, Any] | None = None
    as_of: date | None = None
    try:
        as_of = _query_date(request) or trips.default_date(index)
        answer = trips.card_by_index(index, masked, as_of=as_of, phone=phone, actor=ACTOR)
        view = _card_view(request, answer.card)
    except HealthCodeError as exc:  # a date outside the service, a malformed date
        error = exc
    context: dict[str, Any] = {
        "step": "card", "phone": "", "code_minutes": 0, "lang_path": "/trips", "view": view,
        "as_of": as_of.isoformat() if as_of else "", "trip_session": phone is None,
    }  # fmt: skip
    if error is not None:
        return form_error(request, "trips.html", error, **context)
    return page(request, "trips.html", error=None, headers=NO_STORE, **context)


@router.post("/trips", tags=[PAGE_TAG], response_class=HTMLResponse)
def trips_request_code(request: Request, background: BackgroundTasks, phone: Phone) -> Response:
    """Send a trip-card code to the number."""
    _check_origin(request)
    st = state(request)
    try:
        sms = st.otp.request_code(phone, client=client_address(request), purpose=PURPOSE_TRIP_CARD)
    except HealthCodeError as exc:
        return _form(request, step="phone", phone=phone.strip()[:32], error=exc)
    background.add_task(st.otp.deliver, sms)
    return _form(request, step="code", phone=normalise_phone(phone))


@router.post("/trips/verify", tags=[PAGE_TAG], response_class=HTMLResponse)
def trips_verify(request: Request, phone: Phone, code: Code) -> Response:
    _check_origin(request)
    st = state(request)
    try:
        number = st.otp.check_code(phone, code, purpose=PURPOSE_TRIP_CARD)
    except InvalidPhone as exc:
        return _form(request, step="phone", phone=phone.strip()[:32], error=exc)
    except HealthCodeError as exc:
        return _form(request, step="code", phone=phone.strip()[:32], error=exc)
    token, _ = st.service.trips.open_session(number)
    resp = RedirectResponse("/trips", status_code=303, headers=NO_STORE)
    resp.set_cookie(
        TRIP_COOKIE, token, max_age=st.service.trips.session_ttl_seconds, path="/trips",
        httponly=True, samesite="lax", secure=st.settings.is_prod,
    )  # fmt: skip
    return resp


@router.post("/trips/sign-out", tags=[PAGE_TAG], response_class=HTMLResponse)
def trips_sign_out(request: Request) -> Response:
    _check_origin(request)
    state(request).service.trips.close_session(request.cookies.get(TRIP_COOKIE))
    resp = RedirectResponse("/trips", status_code=303, headers=NO_STORE)
    resp.delete_cookie(TRIP_COOKIE, path="/trips", httponly=True, samesite="lax")
    return resp
