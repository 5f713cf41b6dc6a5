"""Validation of fact records (API JSON or CSV rows) — pure.

Every kind identifies the holder by ``holder_id``, or by ``id_type`` (default
``resident-id``) + ``id_number``. Times are ISO-8601 with an offset (a time
without one is an error); dates are ``YYYY-MM-DD``.

| kind | fields |
|---|---|
| ``tests`` | ``kind`` pcr/antigen, ``result`` negative/positive, ``sampled_at``, [``reported_at``, ``lab``] |
| ``vaccinations`` | ``dose`` (1–10), ``date``, [``product``] |
| ``declarations`` | ``declared_at``, [``symptoms`` ``;``-separated: fever, cough, …], [``province``, ``city``, ``county``, ``community``, ``start``, ``end``] — a stay |
| ``contacts`` | ``kind`` confirmed/suspected/asymptomatic/close/secondary/companion, ``listed_at``, [``source``] |
| ``quarantine`` | ``kind`` centralized/home/monitoring, ``start``, ``end`` |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from healthcode.clock import parse_instant

KINDS = ("tests", "vaccinations", "declarations", "contacts", "quarantine")
SYMPTOMS = {"fever", "cough", "sore-throat", "fatigue", "loss-of-smell", "diarrhoea", "other"}


class FieldError(ValueError):
    """One field of one record is invalid (``field``, message)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ParsedFact:
    """A valid fact: who (holder ref), kind, its own time (UTC) and the data to seal."""

    holder_ref: tuple[str, str]  # ("holder", id) or (id_type, id_number)
    kind: str
    observed_at: datetime
    data: dict[str, Any]
    place: tuple[str, str, str, str] | None = None
    stay: tuple[datetime, datetime] | None = None


def _req(row: dict[str, Any], name: str) -> str:
    v = row.get(name)
    if v is None or str(v).strip() == "":
        raise FieldError(name, "required")
    return str(v).strip()


#: Facts before the first health codes (2020-02) are not plausible; neither are
#: facts more than a day in the future (time-zone mistakes aside).
EARLIEST = datetime(2019, 12, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)


def _instant(row: dict[str, Any], name: str, now: datetime | None = None) -> datetime:
    raw = _req(row, name)
    try:
        when = parse_instant(raw)
    except (ValueError, OverflowError) as exc:
        raise FieldError(name, f"not an ISO-8601 time with offset: {raw!r}") from exc
    if when < EARLIEST:
        raise FieldError(name, f"before {EARLIEST.date()}: {raw!r}")
    if now is not None and when > now + FUTURE_SLACK:
        raise FieldError(name, f"in the future: {raw!r}")
    return when


def _choice(row: dict[str, Any], name: str, allowed: tuple[str, ...]) -> str:
    v = _req(row, name).lower()
    if v not in allowed:
        raise FieldError(name, f"must be one of {', '.join(allowed)}")
    return v


def holder_ref(row: dict[str, Any]) -> tuple[str, str]:
    if str(row.get("holder_id") or "").strip():
        return ("holder", str(row["holder_id"]).strip())
    if str(row.get("id_number") or "").strip():
        return (str(row.get("id_type") or "resident-id").strip(), str(row["id_number"]).strip())
    raise FieldError("holder_id", "give holder_id, or id_number (and id_type)")


def parse_fact(kind: str, row: dict[str, Any], *, now: datetime | None = None) -> ParsedFact:
    """Validate one record of ``kind``.

    :param now: the import's instant (UTC); facts dated more than a day after it are refused.
      (Quarantine ``end`` and a stay's planned ``end`` may lie in the future.)

    :raises FieldError: the first invalid field.
    :raises ValueError: unknown kind.
    """
    ref = holder_ref(row)
    if kind == "tests":
        sampled = _instant(row, "sampled_at", now)
        data: dict[str, Any] = {
            "kind": _choice(row, "kind", ("pcr", "antigen")),
            "result": _choice(row, "result", ("negative", "positive")),
            "sampled_at": sampled.isoformat(),
            "lab": str(row.get("lab") or "")[:100],
        }
        if row.get("reported_at"):
            rep = _instant(row, "reported_at", now)
            if rep < sampled:
                raise FieldError("reported_at", "before sampled_at")
            data["reported_at"] = rep.isoformat()
        return ParsedFact(ref, kind, sampled, data)
    if kind == "vaccinations":
        try:
            dose = int(_req(row, "dose"))
        except ValueError as exc:
            raise FieldError("dose", "must be a whole number") from exc
        if not 1 <= dose <= 10:
            raise FieldError("dose", "must be 1 to 10")
        try:
            day = date.fromisoformat(_req(row, "date"))
        except ValueError as exc:
            raise FieldError("date", "must be YYYY-MM-DD") from exc
        when = _instant({"date": day.isoformat() + "T00:00:00+08:00"}, "date", now)
        return ParsedFact(
            ref,
            kind,
            when,
            {"dose": dose, "date": day.isoformat(), "product": str(row.get("product") or "")[:100]},
        )
    if kind == "declarations":
        declared = _instant(row, "declared_at", now)
        raw_sym = str(row.get("symptoms") or "")
        symptoms = sorted(
            {s.strip().lower() for s in raw_sym.replace(",", ";").split(";") if s.strip()}
        )
        bad = [s for s in symptoms if s not in SYMPTOMS]
        if bad:
            raise FieldError("symptoms", f"unknown {bad}; allowed {sorted(SYMPTOMS)}")
        data = {"declared_at": declared.isoformat(), "symptoms": symptoms}
        place = None
        stay = None
        if any(str(row.get(k) or "").strip() for k in ("province", "community", "start", "end")):
            province, city = _req(row, "province"), _req(row, "city")
            county, community = str(row.get("county") or "").strip(), _req(row, "community")
            start, end = _instant(row, "start"), _instant(row, "end")
            if end < start:
                raise FieldError("end", "before start")
            place = (province, city, county, community)
            stay = (start, end)
            data.update(
                province=province, city=city, county=county, community=community,
                start=start.isoformat(), end=end.isoformat(),
            )  # fmt: skip
        return ParsedFact(ref, kind, declared, data, place, stay)
    if kind == "contacts":
        listed = _instant(row, "listed_at", now)
        data = {
            "kind": _choice(
                row,
                "kind",
                ("confirmed", "suspected", "asymptomatic", "close", "secondary", "companion"),
            ),
            "listed_at": listed.isoformat(),
            "source": str(row.get("source") or "")[:100],
        }
        return ParsedFact(ref, kind, listed, data)
    if kind == "quarantine":
        start, end = _instant(row, "start"), _instant(row, "end")
        if end <= start:
            raise FieldError("end", "must be after start")
        data = {
            "kind": _choice(row, "kind", ("centralized", "home", "monitoring")),
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
        return ParsedFact(ref, kind, start, data)
    raise ValueError(f"unknown fact kind {kind!r}; one of {', '.join(KINDS)}")
