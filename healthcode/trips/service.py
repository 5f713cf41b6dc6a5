"""Trip-card use cases over the database: import records, build cards, answer a card query.

:class:`TripService` is what :class:`healthcode.service.HealthCode` offers as
``import_trip_records``, ``build_trip_cards`` and ``trip_card`` (the CLI and the
web page stay thin). Each write is one transaction: a refused import stores
nothing, a failed build stores no card.

Cards and the health-code rules: after a build, the holders whose phone (by
blind index) got or lost a card are re-evaluated, since their ``trip_stays``
facts come from the stored cards (:func:`healthcode.facts.trips.trip_stays`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import SHANGHAI
from healthcode.holders.identity import normalise_phone
from healthcode.storage.models import TripCardRow
from healthcode.trips import store
from healthcode.trips.errors import EngineUnavailable
from healthcode.trips.geo import ADCODES, CITY_POLYGONS, PlaceIndex
from healthcode.trips.model import TripCard, mask_phone
from healthcode.trips.policy import Policy, PolicyBook, load_policies
from healthcode.trips.readers import (
    GeolifePhoneMap,
    RecordFormat,
    inspect_records,
    read_cell_sites,
    read_records,
)
from healthcode.trips.risk import StaticRiskLookup
from healthcode.trips.stays import empty_card

if TYPE_CHECKING:
    from healthcode.service import HealthCode

#: ``progress(stage, step, steps)`` of a build (stages: load or read records, the engine's four, store).
BuildProgress = Callable[[str, int, int], None]
BUILD_STEPS = 6
#: The engine's stages as a build reports them (the engine says only "read records" &c.).
_ENGINE_STAGES = {
    "read records": "select the records of the window and the 72 h look-back",
    "resolve places": "resolve each record's city or place abroad",
    "stays": "find the stays of 4 h or more",
    "cards": "assemble the cards",
}
#: ``progress(stage, step, steps)`` of an import's two stages (read and check, store).
IMPORT_STEPS = 2
#: ``rows(done, total)``: records stored so far while an import writes them.
RowProgress = Callable[[int, int], None]
#: Lifetime of a trip-card page session, seconds (the card shows a location history).
SESSION_TTL_SECONDS = 600
#: Stands in for the number of a phone never seen in records (only its masked form is shown).
_NO_PHONE = "13000000000"


def check_engine(engine: str) -> None:
    """Whether ``engine`` can run here, checked before a build does any work.

    :raises EngineUnavailable: ``spark`` without pyspark or without a Java runtime.
    """
    if engine != "spark":
        return
    import importlib.util
    import os
    import shutil

    try:
        found = importlib.util.find_spec("pyspark") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise EngineUnavailable("the spark engine needs pyspark: pip install -e '.[spark]'")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise EngineUnavailable(
            "the spark engine needs Java 17 (Debian: apt-get install openjdk-17-jre-headless)"
        )


def _masked(text: str, phone: str, masked: str) -> str:
    """A card line with the masked phone the caller knows (same text when they agree)."""
    return text.replace(f'"phone": "{mask_phone(phone)}"', f'"phone": "{masked}"', 1)


@dataclass(frozen=True)
class DefaultDate:
    """The query date a page shows when none is chosen, and why.

    :ivar basis: ``records`` (the day after the phone's newest record), ``today`` (that
        day is later than today while the service runs), ``last-day`` (later than the
        service's last day), ``demo`` (DEMO records: the demo date), ``no-records`` (the
        phone has no records: today, or the last day of the service after it ended).
    """

    day: date
    basis: str


@dataclass(frozen=True)
class BuildResult:
    """What :meth:`TripService.build` computed and stored."""

    cards: list[TripCard]  #: sorted by phone (full numbers: for ``--out`` only)
    summary: dict[str, Any]  #: counts (what the CLI prints, what the audit holds)


@dataclass(frozen=True)
class CardAnswer:
    """One card query's answer.

    :ivar text: the card JSON line, exactly the keys of the contract (``phone, as_of,
        window_days, window, updated_at, colour, cities, abroad, policy``).
    :ivar source: ``stored`` (read back), ``computed`` (from stored records, now stored),
        or ``files`` (from ``--records`` files, not stored).
    :ivar reason: for an empty card (no record in the window), why: ``{"code", "message"}``
        with the codes of :func:`healthcode.trips.store.empty_reason`; else ``None``. It is
        not part of the card JSON: the CLI prints it on stderr (and in its text output).
    """

    text: str
    source: str
    as_of: date
    reason: dict[str, str] | None = None

    @cached_property
    def card(self) -> dict[str, Any]:
        """The card to show: the card JSON as a dict, plus ``"reason"`` (last) for an empty
        card, which the page shows as a notice. :attr:`text` never has ``"reason"``."""
        out: dict[str, Any] = json.loads(self.text)
        if self.reason is not None:
            out["reason"] = self.reason
        return out


class TripService:
    """Trip-card use cases of one :class:`~healthcode.service.HealthCode` deployment."""

    #: Lifetime of a trip-card page session, seconds.
    session_ttl_seconds = SESSION_TTL_SECONDS

    def __init__(self, app: HealthCode) -> None:
        self.app = app
        self.seal_key = store.phone_seal_key(app.settings.master_key)

    @cached_property
    def geo(self) -> PlaceIndex:
        """The polygon index (loaded once, ≈1 s), from ``HEALTHCODE_SHARED``.

        :raises MissingSharedFile: the polygons or the code table are missing.
        """
        settings = self.app.settings
        return PlaceIndex.load(settings.shared_path(CITY_POLYGONS), settings.shared_path(ADCODES))

    @cached_property
    def policies(self) -> PolicyBook:
        return load_policies()

    def policy(self, as_of: date) -> Policy:
        """:raises ServiceEnded: no trip card on ``as_of``."""
        return self.policies.for_date(as_of)

    # -- import ------------------------------------------------------------------------
    def import_records(
        self,
        paths: Sequence[str | Path],
        *,
        fmt: str | None = None,
        cell_sites: str | Path | None = None,
        phone_map: str | Path | None = None,
        phone: str | None = None,
        actor: str = "cli",
        progress: BuildProgress | None = None,
        rows_progress: RowProgress | None = None,
    ) -> dict[str, Any]:
        """Read every file, then store all records or none.

        :param phone: the number of ``.plt`` files (normalised; default: from their folders).

        :param progress: ``progress(stage, step, IMPORT_STEPS)`` at each of the two stages.
        :param rows_progress: ``rows_progress(stored, total)`` after each batch stored.

        :returns: the summary of :func:`healthcode.trips.store.import_records` plus
            ``holders_reevaluated`` and ``status_changes``.
        :raises RecordsRejected: any bad row or file (``details`` lists file, line, code).
        :raises UnknownRecordFormat: a file whose format cannot be detected.
        """
        n_files = len(paths)
        if progress is not None:
            progress(f"read and check {n_files} record file(s)", 1, IMPORT_STEPS)
        sites = read_cell_sites(cell_sites) if cell_sites else None
        pmap = GeolifePhoneMap.from_csv(phone_map) if phone_map else None
        report = inspect_records(
            [str(p) for p in paths],
            fmt=RecordFormat(fmt) if fmt else None,
            cell_sites=sites,
            phone_map=pmap,
            phone=normalise_phone(phone) if phone else None,
        )
        report.raise_for_errors()
        if progress is not None:
            progress(f"store {report.records.num_rows} record(s)", 2, IMPORT_STEPS)
        at = self.app.now()
        with self.app.db.session() as s:
            summary = store.import_records(
                s, self.app.keys, report, seal_key=self.seal_key, at=at,
                source=", ".join(Path(f).name for f in report.files), actor=actor,
                progress=rows_progress,
            )  # fmt: skip
            changes = {"evaluated": 0, "changed": 0}
            if summary["cards_invalidated"]:
                phones = report.records.column("phone").unique().to_pylist()
                indexes = {self.app.keys.phone_key(p) for p in phones}
                changes = self._reevaluate(s, indexes, at=at)
            summary["holders_reevaluated"] = changes["evaluated"]
            summary["status_changes"] = changes["changed"]
            return summary

    # -- build -------------------------------------------------------------------------
    def build(
        self,
        as_of: date,
        *,
        records: Sequence[str | Path] | None = None,
        engine: str = "duckdb",
        cell_sites: str | Path | None = None,
        phone: str | None = None,
        progress: BuildProgress | None = None,
        actor: str = "cli",
    ) -> BuildResult:
        """Cards of every phone with records in the window of ``as_of``, stored.

        :param records: record files (any import format, GeoLife with the default phone
            map); default: the stored records.
        :param engine: ``duckdb`` (default) or ``spark`` (local mode).
        :raises ServiceEnded: no trip card on ``as_of``.
        :raises RecordsRejected: bad rows in ``records``; :raises EngineUnavailable: no Spark/Java.
        """
        from healthcode.trips import build_cards

        policy = self.policy(as_of)
        check_engine(engine)
        geo = self.geo

        def step(stage: str, n: int) -> None:
            if progress is not None:
                progress(_ENGINE_STAGES.get(stage, stage), n, BUILD_STEPS)

        step("read and check the record files" if records else "load the stored records", 1)
        sites = read_cell_sites(cell_sites) if cell_sites else None
        lo_s, hi_s = store.lookback_range(policy, as_of)
        if records:  # read (and check) the files before touching the database
            table = read_records(
                [str(p) for p in records], cell_sites=sites,
                phone=normalise_phone(phone) if phone else None,  # of .plt files
            )  # fmt: skip
            source = store.SOURCE_FILES
        with self.app.db.read() as s:
            if not records:
                table = store.stored_records(s, seal_key=self.seal_key, lo_s=lo_s, hi_s=hi_s)
                source = store.SOURCE_RECORDS
            risk, risk_import = self._risk(s, policy, as_of)
            risk_warnings = store.risk_list_warnings(s, policy, as_of)
            phones = pc.unique(table.column("phone")).to_pylist()
            index_of = store.phone_indexes(self.app.keys, phones)
            contacts = self._close_contacts(s, policy, as_of, index_of)
        cards = build_cards(
            table, as_of=as_of, geo=geo, engine=engine,  # type: ignore[arg-type]
            policy=policy, risk=risk, cell_sites=sites, close_contacts=contacts,
            progress=lambda stage, n, _total: step(stage, n + 1),
        )  # fmt: skip
        step("store the cards and re-evaluate the holders concerned", BUILD_STEPS)
        at = self.app.now()
        with self.app.db.session() as s:
            touched = {index_of[c.phone] for c in cards}
            if source == store.SOURCE_RECORDS:  # every older card of the date is replaced
                touched.update(
                    s.execute(
                        select(TripCardRow.phone_index).where(TripCardRow.as_of == as_of)
                    ).scalars()
                )
            rows = [(index_of[c.phone], c.to_json(), c) for c in cards]
            stored = store.store_cards(
                s, rows, as_of=as_of, at=at, source=source, risk_import=risk_import,
                replace_all=source == store.SOURCE_RECORDS,
            )  # fmt: skip
            changes = self._reevaluate(s, touched, at=at)
            colours: dict[str, int] = {}
            for c in cards:
                colours[c.colour.value] = colours.get(c.colour.value, 0) + 1
            summary = {
                "as_of": as_of.isoformat(),
                "policy": policy.id,
                "window": [d.isoformat() for d in policy.window(as_of)],
                "engine": engine,
                "source": source,
                "records": table.num_rows,
                "phones": len(index_of),
                "cards": stored,
                "colours": dict(sorted(colours.items())),
                "starred_cards": sum(1 for c in cards if c.starred),
                "holders_reevaluated": changes["evaluated"],
                "status_changes": changes["changed"],
                # a star date the stored risk list cannot answer: no card can show a star
                "warnings": risk_warnings,
            }
            audit.append(
                s, tag=AuditTag.TRIP_BUILD, actor=actor, at=at, subject=as_of.isoformat(),
                data={k: v for k, v in summary.items() if k not in ("window",)},
            )  # fmt: skip
        return BuildResult(cards=cards, summary=summary)

    # -- query -------------------------------------------------------------------------
    def card(
        self,
        phone: str,
        *,
        as_of: date,
        records: Sequence[str | Path] | None = None,
        cell_sites: str | Path | None = None,
        actor: str = "cli",
        audit_read: bool = True,
    ) -> CardAnswer:
        """A phone's card for ``as_of``: the stored one, computed and stored if missing or
        stale, or computed from ``records`` files (not stored).

        A phone without records in the window gets an empty card, and the answer says why
        (:attr:`CardAnswer.reason`).

        :raises InvalidPhone: not a mainland mobile number; :raises ServiceEnded: no card
            on ``as_of``; :raises RecordsRejected: bad rows in ``records``.
        """
        p = normalise_phone(phone)
        policy = self.policy(as_of)
        if records:
            sites = read_cell_sites(cell_sites) if cell_sites else None
            table = read_records([str(x) for x in records], cell_sites=sites)
            with self.app.db.read() as s:
                risk, _ = self._risk(s, policy, as_of)
                contacts = self._close_contacts(s, policy, as_of, {p: self.app.keys.phone_key(p)})
            text, reason = self._compute(table, p, mask_phone(p), policy, as_of, risk, contacts,
                                         span=lambda: store.table_span(table, p))  # fmt: skip
            return CardAnswer(text, "files", as_of, reason)
        return self.card_by_index(
            self.app.keys.phone_key(p), mask_phone(p), as_of=as_of, phone=p, actor=actor,
            audit_read=audit_read,
        )  # fmt: skip

    def card_by_index(
        self,
        phone_index: str,
        masked: str,
        *,
        as_of: date,
        phone: str | None = None,
        actor: str = "cli",
        audit_read: bool = True,
    ) -> CardAnswer:
        """The card of the phone with this blind index (the web page knows only the index).

        :raises ServiceEnded: no card on ``as_of``.
        """
        policy = self.policy(as_of)
        with self.app.db.read() as s:
            found = store.get_card(s, phone_index, as_of)
            fresh = found is not None and (
                found.source == store.SOURCE_FILES
                or not store.uses_risk_list(policy)
                or found.risk_import == store.current_risk_import(s)
            )
            if found is not None and fresh:
                stored = CardAnswer(store.card_json(found.text), "stored", as_of)
                if json.loads(stored.text)["updated_at"] is None:  # empty: why, as of now
                    span = store.stored_span(s, phone_index)
                    stored = replace(stored, reason=store.empty_reason(policy, as_of, span))
        if found is not None and fresh:
            answer = stored
        else:
            answer = self._compute_stored(phone_index, masked, phone, policy, as_of)
        if audit_read:
            with self.app.db.session() as s:
                audit.append(
                    s, tag=AuditTag.TRIP_READ, actor=actor, at=self.app.now(), subject=phone_index,
                    data={"as_of": as_of.isoformat(), "source": answer.source},
                )  # fmt: skip
        return answer

    def default_date(self, phone_index: str | None = None) -> DefaultDate:
        """The query date a page shows when none is chosen: the day after the phone's
        newest stored record (the data are one day behind, so that card is the first with
        all of them), at most today and at most the service's last day; for DEMO records
        the demo date; for a phone without records, today (the service's last day after
        it ended). Never a stored card's date: which cards are stored depends on what
        operators built or asked, not on the phone."""
        today = self.app.now().astimezone(SHANGHAI).date()
        ended = self.policies.service_ended
        last = ended.astimezone(SHANGHAI).date() - timedelta(days=1) if ended else None
        cap, cap_basis = today, "today"
        if last is not None and last < today:
            cap, cap_basis = last, "last-day"
        span: tuple[int, int] | None = None
        demo: date | None = None
        if phone_index is not None:
            with self.app.db.read() as s:
                span = store.stored_span(s, phone_index)
                if span is not None:
                    demo = store.demo_day(s, phone_index)
        if demo is not None:
            return DefaultDate(demo, "demo")
        if span is None:
            return DefaultDate(cap, "no-records")
        after = store.shanghai_day(span[1]) + timedelta(days=1)
        if after > cap:
            return DefaultDate(cap, cap_basis)
        return DefaultDate(after, "records")

    def demo(self, phone_index: str) -> tuple[bool, date | None]:
        """Whether the phone's stored records include DEMO records (``healthcode demo``),
        and the demo date when known."""
        with self.app.db.read() as s:
            if not store.has_demo_records(s, phone_index):
                return False, None
            return True, store.demo_day(s, phone_index)

    # -- page sessions -----------------------------------------------------------------
    def holder_phone(self, holder_id: str, *, actor: str) -> str:
        """A holder's phone number, to show a signed-in holder their own card (the read of
        their personal data is audited as ``holder:read``).

        :raises NotFound: unknown holder or destroyed data.
        """
        from healthcode.holders.service import get_holder, read_pii

        with self.app.db.session() as s:
            h = get_holder(s, holder_id)
            pii = read_pii(s, h, self.app.keys, actor=actor, purpose="trip card", at=self.app.now())
            return pii.phone

    def open_session(self, phone: str) -> tuple[str, datetime]:
        """A trip-card page session for a phone whose SMS code was just checked."""
        with self.app.db.session() as s:
            return store.open_session(
                s, normalise_phone(phone), self.app.keys, at=self.app.now(),
                ttl_seconds=SESSION_TTL_SECONDS,
            )  # fmt: skip

    def session_phone(self, token: str | None) -> tuple[str, str] | None:
        """(phone index, masked phone) of a live page session, or ``None``."""
        with self.app.db.read() as s:
            return store.session_phone(s, token, at=self.app.now())

    def close_session(self, token: str | None) -> None:
        with self.app.db.session() as s:
            store.close_session(s, token)

    # -- internals ---------------------------------------------------------------------
    def _risk(self, s: Session, policy: Policy, as_of: date) -> tuple[StaticRiskLookup, str | None]:
        """The risk cities of the card's star day, read once (and the risk import they came from)."""
        if not store.uses_risk_list(policy):
            return StaticRiskLookup({}), None
        day = policy.star_day(as_of)
        lookup = store.DbRiskLookup(s, self.geo.names)
        return StaticRiskLookup({day: lookup.starred_cities(day)}), store.current_risk_import(s)

    def _close_contacts(
        self, s: Session, policy: Policy, as_of: date, index_of: dict[str, str]
    ) -> set[str]:
        start, end = policy.window_instants(as_of)
        wanted = store.close_contact_indexes(s, self.app.keys, start, end)
        return {phone for phone, idx in index_of.items() if idx in wanted}

    def _compute(
        self,
        table: pa.Table,
        phone: str,
        masked: str,
        policy: Policy,
        as_of: date,
        risk: StaticRiskLookup,
        contacts: set[str],
        *,
        span: Callable[[], tuple[int, int] | None],
    ) -> tuple[str, dict[str, str] | None]:
        """The card JSON line of one phone, and for an empty card the reason why."""
        from healthcode.trips import build_cards

        cards = build_cards(
            table, as_of=as_of, geo=self.geo, policy=policy, risk=risk,
            close_contacts=contacts, phones={phone},
        )  # fmt: skip
        if cards:
            return cards[0].to_json(), None
        empty = empty_card(phone, as_of=as_of, policy=policy, close_contact=phone in contacts)
        return _masked(empty.to_json(), phone, masked), store.empty_reason(policy, as_of, span())

    def _compute_stored(
        self, phone_index: str, masked: str, phone: str | None, policy: Policy, as_of: date
    ) -> CardAnswer:
        lo_s, hi_s = store.lookback_range(policy, as_of)
        with self.app.db.read() as s:
            if phone is None:
                phone = store.unseal_phones(s, {phone_index}, seal_key=self.seal_key).get(
                    phone_index
                )
            risk, risk_import = self._risk(s, policy, as_of)
            span = store.stored_span(s, phone_index)
            contacts = (
                self._close_contacts(s, policy, as_of, {phone: phone_index}) if phone else set()
            )
            if phone is not None and span is not None:
                table = store.stored_records(
                    s, seal_key=self.seal_key, lo_s=lo_s, hi_s=hi_s, indexes={phone_index},
                    phone_of={phone_index: phone},
                )  # fmt: skip
                text, reason = self._compute(
                    table, phone, masked, policy, as_of, risk, contacts, span=lambda: span
                )
        if phone is None or span is None:
            # no record of this phone: the empty card is computed and never stored, nor is
            # the number: a query leaves no trace of a phone the service knows nothing of
            number = phone or _NO_PHONE
            empty = empty_card(number, as_of=as_of, policy=policy, close_contact=number in contacts)
            text = _masked(empty.to_json(), number, masked)
            return CardAnswer(text, "computed", as_of, store.empty_reason(policy, as_of, None))
        card = json.loads(text)
        try:
            with self.app.db.session() as s:
                s.execute(
                    delete(TripCardRow).where(
                        TripCardRow.phone_index == phone_index, TripCardRow.as_of == as_of
                    )
                )
                s.add(
                    TripCardRow(
                        phone_index=phone_index, as_of=as_of, card=text, colour=card["colour"],
                        policy=card["policy"],
                        updated_at=datetime.fromisoformat(card["updated_at"]) if card["updated_at"] else None,
                        built_at=self.app.now(), source=store.SOURCE_RECORDS, risk_import=risk_import,
                    )
                )  # fmt: skip
        except IntegrityError:
            pass  # a concurrent query stored the same card first (PostgreSQL): keep theirs
        return CardAnswer(text, "computed", as_of, reason)

    def _reevaluate(self, s: Session, indexes: set[str], *, at: datetime) -> dict[str, int]:
        """Re-evaluate the holders whose phones have these blind indexes (by index, no scan)."""
        from healthcode.holders import status as status_svc
        from healthcode.issuers import service as issuers

        holders = store.holders_with_phones(s, indexes)
        if not holders:
            return {"evaluated": 0, "changed": 0}
        return status_svc.reevaluate_many(
            s, self.app.keys, self.app.ruleset, holders, as_of=self.app._as_of_fn(s), at=at,
            trigger="trips", signer=issuers.checkpoint_signer(s, self.app.settings.master_key),
        )  # fmt: skip
