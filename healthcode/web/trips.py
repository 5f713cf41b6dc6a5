"""The trip-card page (通信行程卡): a phone number, an SMS code, then the card.

| route | what |
|---|---|
| ``GET /trips`` (``?date=YYYY-MM-DD``) | the card, with a live trip-card session (or a holder session: the holder's own phone); else the phone form |
| ``POST /trips`` (``phone``) | sends a ``trip-card`` code to the number (any well-formed number, as the carriers' service did) |
| ``POST /trips/verify`` (``phone``, ``code``) | a 10-minute session cookie (:data:`TRIP_COOKIE`, path ``/trips``), 303 to ``/trips`` |
| ``POST /trips/sign-out`` | ends the trip-card session |

The card shows the masked phone, "updated at" (the newest record the card used),
the cities with a stay of 4 h or more (a star on cities with a listed medium/high
risk area on D−1, while the policy of the date had stars), places abroad, the
colour with its label and its meaning under the policy of the date, the footnotes
(what the 4 h stay, the times, the one-day data lag and — only when shown — the
star mean), the legend of the colours in force on the date, and the policy id.
In English, places get their English name with the official Chinese name alongside
(:func:`~healthcode.trips.geo.english_name`); the card JSON is unchanged.

The query date defaults to the day after the phone's newest location record (the data
are one day behind), at most today and at most the last day of the service (2022-12-12);
DEMO records: the demo date; a phone without records: today, or that last day, with an
empty card that says there are no records (never a stored card's date: which cards are
stored depends on what operators built or asked). A card of DEMO records carries a DEMO
ribbon. A place abroad shows its first and last records like a city; ``ZZ`` (a point
outside every polygon) is named "境外（未能确定国家/地区）". A date outside 1900–2999 is
``invalid-date``; a date from the end of the service on is ``trip-service-ended``;
a server without the data a card needs (polygons, policy file, engine) answers
:class:`TripCardUnavailable` (503), the cause logged. Codes:
:class:`~healthcode.holders.otp.OtpService` with purpose ``trip-card`` (hashed,
5 minutes, 5 attempts, rate limits shared with sign-in).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from healthcode.clock import SHANGHAI
from healthcode.errors import ConfigError, HealthCodeError, InvalidDate, InvalidPhone, NotFound
from healthcode.holders.identity import normalise_phone
from healthcode.holders.otp import PURPOSE_TRIP_CARD
from healthcode.trips.geo import english_name
from healthcode.trips.model import mask_phone
from healthcode.trips.policy import PolicyBook
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

log = logging.getLogger("healthcode.web")
router = APIRouter()
ACTOR = "trip-page"
TRIP_COOKIE = "hc_trip"
#: The card's code of a place abroad outside every polygon (JSON name 境外): its country or
#: region was not determined.
ABROAD_UNKNOWN = "ZZ"
#: Query dates the page accepts (as the CLI's ``--as-of``).
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2999, 12, 31)

# No max_length / required here: a missing or overlong field is the form's own error
# (invalid phone, wrong code), shown on the form, not a validation page.
Phone = Annotated[str, Form()]
Code = Annotated[str, Form()]


class TripCardUnavailable(HealthCodeError):
    """The server lacks what a card needs (reference data, policy file, engine); the
    holder is asked to try later and the cause goes to the log."""

    code = "trip-card-unavailable"
    status = 503


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
        day = date.fromisoformat(raw.strip())
    except ValueError as exc:
        raise InvalidDate(f"not a date (YYYY-MM-DD): {raw[:20]!r}") from exc
    if not FIRST_DATE <= day <= LAST_DATE:
        raise InvalidDate(f"a date from {FIRST_DATE} to {LAST_DATE}, not {raw[:20]!r}")
    return day


def _last_card_date(book: PolicyBook) -> date | None:
    """The last date with a card (the day before the service ended), or None."""
    if book.service_ended is None:
        return None
    return book.service_ended.astimezone(SHANGHAI).date() - timedelta(days=1)


def card_view(card: dict[str, Any], book: PolicyBook, locale: str) -> dict[str, Any]:
    """What the card template needs besides the card JSON, under the card's own policy.

    :param card: the card JSON (``TripCard.to_json()`` or a stored card).
    :param book: the policy book (the card's ``policy`` id must be in it).
    :param locale: ``"en"`` or ``"zh_CN"``.
    :returns: ``card``; ``meaning`` of its colour and the ``legend`` of the colours in force
        under its policy; ``star_note_day`` (the risk-list day D−1, or ``None`` when the
        policy shows no stars or no city is starred); ``cities``/``abroad`` with ``en``
        names (``unknown`` for the place abroad whose country was not determined); ``policy_from``;
        ``notice``.
    :raises KeyError: the card's policy is not in ``book``.
    """
    policy = book.by_id(card["policy"])
    as_of = date.fromisoformat(card["as_of"])
    starred = any(c["star"] for c in card["cities"])
    return {
        "card": card,
        "meaning": policy.meaning(card["colour"], locale),
        "legend": [(c.colour.value, c.meaning(locale)) for c in policy.colours],
        "star_note_day": policy.star_day(as_of).isoformat() if policy.star and starred else None,
        "cities": [{**c, "en": english_name(c["code"], c["name"])} for c in card["cities"]],
        "abroad": [
            {**a, "en": english_name(a["code"], a["name"]), "unknown": a["code"] == ABROAD_UNKNOWN}
            for a in card["abroad"]
        ],
        "policy_from": policy.valid_from.isoformat(),
        "notice": book.notice_en if locale == "en" else book.notice_zh,
    }


@router.get("/trips", tags=[PAGE_TAG], response_class=HTMLResponse)
def trips_page(request: Request) -> Response:
    """The card of ``?date=`` (default: see the module doc) for the session's phone, else the form."""
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
    asked: date | None = None
    basis = ""
    try:
        asked = _query_date(request)
        if asked is None:
            default = trips.default_date(index)
            as_of, basis = default.day, default.basis
        else:
            as_of = asked
        answer = trips.card_by_index(index, masked, as_of=as_of, phone=phone, actor=ACTOR)
        card = {**answer.card, "reason": answer.reason}  # an empty card says why
        view = card_view(card, trips.policies, locale_of(request))
    except ConfigError as exc:  # the server's fault: say so, keep the cause in the log
        log.error("trip card unavailable: %s: %s", exc.code, exc.message)
        error = TripCardUnavailable("the trip card cannot be computed on this server now")
    except HealthCodeError as exc:  # a date outside the service, a malformed date
        error = exc
    last = _last_card_date(trips.policies)
    ended = trips.policies.service_ended
    demo, demo_day = trips.demo(index)
    context: dict[str, Any] = {
        "step": "card", "phone": "", "code_minutes": 0, "view": view,
        "lang_path": f"/trips?date={asked.isoformat()}" if asked else "/trips",
        "as_of": as_of.isoformat() if as_of else "", "trip_session": phone is None,
        "last_date": last.isoformat() if last else "",
        "service_ended": ended.astimezone(SHANGHAI).date().isoformat() if ended else "",
        # no date asked: why this date (never "the newest card": none is implied)
        "default_basis": basis,
        # DEMO records: a ribbon on the card, with the demo date
        "demo": demo, "demo_date": demo_day.isoformat() if demo_day else "",
    }  # fmt: skip
    if error is not None:
        return form_error(request, "trips.html", error, **context)
    return page(request, "trips.html", error=None, headers=NO_STORE, **context)


@router.post("/trips", tags=[PAGE_TAG], response_class=HTMLResponse)
def trips_request_code(
    request: Request, background: BackgroundTasks, phone: Phone = ""
) -> Response:
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
def trips_verify(request: Request, phone: Phone = "", code: Code = "") -> Response:
    """Check the SMS code; open a trip-card session and go to the card (303)."""
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
    """End the trip-card session and go back to the form (303)."""
    _check_origin(request)
    state(request).service.trips.close_session(request.cookies.get(TRIP_COOKIE))
    resp = RedirectResponse("/trips", status_code=303, headers=NO_STORE)
    resp.delete_cookie(TRIP_COOKIE, path="/trips", httponly=True, samesite="lax")
    return resp
