"""The application facade used by both the CLI and the web app (both stay thin).

``HealthCode(settings)`` opens (creating/migrating) the database, ensures the
35 issuers exist (with DEMO development keys in local mode), and offers one
method per use case. Each method is one transaction: on any error nothing is
written.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from healthcode.audit import log as audit
from healthcode.audit.tags import AuditTag
from healthcode.clock import Clock, SystemClock
from healthcode.config import Settings
from healthcode.credentials import native
from healthcode.credentials.errors import SeveralCodes
from healthcode.credentials.inputs import ScannedInput, from_bytes
from healthcode.credentials.model import Colour, HealthCodeClaims, LatestTest
from healthcode.credentials.pipeline import VerifyOptions, clean_scanned_text, detect_format, verify
from healthcode.credentials.qr import looks_like_image
from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore
from healthcode.ecerts.service import IssuedCertificate
from healthcode.errors import NotFound
from healthcode.facts.service import gather_facts, import_facts
from healthcode.holders import status as status_svc
from healthcode.holders.service import HolderKeys, enrol, get_holder, read_pii
from healthcode.issuers import service as issuers
from healthcode.issuers.regions import region_of
from healthcode.riskareas import service as riskareas
from healthcode.rules.engine import load_default_ruleset
from healthcode.rules.model import RuleSet
from healthcode.storage.db import Database, open_database
from healthcode.storage.models import AuditEntry, Holder, ImportRun, Issuer, SigningKey, Status

if TYPE_CHECKING:
    from healthcode.trips.service import BuildResult, CardAnswer, TripService

Progress = Callable[[int, int], None]
log = logging.getLogger(__name__)


def default_verify_options(shared: str) -> VerifyOptions:
    """Verify options from the reference data: DCC JSON schemas (``dcc_schemas``) and value
    sets (``value_set_names`` and, for business rules, ``value_sets``) under
    ``<shared>/vectors/dcc-schema``.

    What is missing or unreadable is left out, never an error: without schemas the
    ``schema`` stage of an ``HC1:`` report is null with the warning ``schema-unavailable``;
    without value sets codes are not named and ``value-set-unknown-code`` is not checked.

    :param shared: the reference-data folder (``settings.shared``, ``HEALTHCODE_SHARED``).
    """
    from healthcode.credentials import trustload, valuesets
    from healthcode.errors import ConfigError

    root = trustload.default_dcc_schema_dir(shared)
    schemas: dict[str, dict[str, Any]] | None
    try:
        schemas = trustload.load_dcc_schemas(root)
    except (ConfigError, ValueError) as exc:
        log.warning("DCC schemas not loaded (%s): the schema check is skipped", exc)
        schemas = None
    names: valuesets.ValueSets | None
    try:
        names = valuesets.load_value_sets(root / "eu-dcc-valuesets")
    except (OSError, ValueError) as exc:
        log.warning("DCC value sets not loaded (%s)", exc)
        names = None
    return VerifyOptions(
        dcc_schemas=schemas,
        value_set_names=names,
        value_sets=names.codes() if names is not None else {},
    )


class HealthCode:
    """One healthcode deployment: settings + database + clock."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, db: Database | None = None
    ) -> None:
        settings.check()
        self.settings = settings
        self.clock = clock or SystemClock()
        self.db = db or open_database(settings.db_url)
        self.keys = HolderKeys.from_master(settings.master_key)
        self.ruleset: RuleSet = load_default_ruleset()
        self._checkpoint_signer: Any = None
        self._trust_cache: tuple[float, TrustStore] | None = None
        self._trust_problems: tuple[str, ...] = ()
        self._verify_options: VerifyOptions | None = None
        self._audit_buffer: list[dict[str, Any]] = []
        self._buffer_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()
        event.listen(self.db.sessions, "before_commit", self._sign_appended)
        event.listen(self.db.sessions, "after_flush", self._keys_changed)
        with self.db.session() as s:
            issuers.ensure_issuers(
                s, master=settings.master_key, at=self.now(), dev_keys=not settings.is_prod
            )

    def now(self) -> datetime:
        return self.clock.now()

    def _keys_changed(self, session: Session, _flush_context: Any) -> None:
        """A key created, rotated or revoked in this process: drop the cached trust store."""
        if any(isinstance(o, SigningKey) for o in (*session.new, *session.dirty)):
            self._trust_cache = None

    def _sign_appended(self, session: Session) -> None:
        """Sign a checkpoint at the end of every write that appended audit entries.

        The anchor key is unsealed once and kept; a checkpoint costs one ECDSA
        signature (~40 us) and one row.
        """
        if not session.info.pop("audit_appended", False):
            return
        try:
            if self._checkpoint_signer is None:
                self._checkpoint_signer = issuers.checkpoint_signer(
                    session, self.settings.master_key
                )
        except NotFound:
            return  # production before `healthcode keys create 100000 --purpose trust-list`
        audit.checkpoint(session, signer=self._checkpoint_signer, at=self.now())

    def close(self) -> None:
        """Flush buffered audit entries and release the database."""
        self.flush_audit()
        if self._flusher is not None:
            self._stop.set()
            self._flusher.join(timeout=10)
            self._flusher = None
        self.db.dispose()

    # -- buffered audit of verifications -------------------------------------------
    def buffer_verification_audit(self, interval_seconds: float = 0.5) -> None:
        """Write verification audit entries in batches from a background thread.

        For the server: a verification then never waits for the database's write
        lock (held, say, by a long import), and many verifications share one write
        and one signed checkpoint. Entries are flushed every ``interval_seconds``
        and by :meth:`close`.
        """
        if self._flusher is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.flush_audit()
                except Exception:  # keep buffering; the next round retries
                    log.exception("could not write buffered audit entries; will retry")

        self._flusher = threading.Thread(target=loop, name="audit-flusher", daemon=True)
        self._flusher.start()

    def flush_audit(self) -> int:
        """Write the buffered verification entries now; returns how many."""
        with self._buffer_lock:
            pending, self._audit_buffer = self._audit_buffer, []
        if not pending:
            return 0
        try:
            with self.db.session() as s:
                audit.append_many(s, pending, at=self.now())
        except Exception:
            with self._buffer_lock:
                self._audit_buffer[:0] = pending
            raise
        return len(pending)

    # -- holders -----------------------------------------------------------------
    def enrol(self, *, actor: str = "cli", demo: bool = False, **fields: Any) -> dict[str, Any]:
        """Enrol a holder and evaluate their first status.

        :returns: ``{"holder_id", "region", "name_masked", "id_masked"}``.
        :raises InputError: invalid name, ID, phone or region; :raises HolderExists: duplicate ID.
        """
        at = self.now()
        with self.db.session() as s:
            holder, pii = enrol(s, self.keys, at=at, actor=actor, demo=demo, **fields)
            s.flush()
            status_svc.evaluate_holder(
                s,
                self.keys,
                holder,
                self.ruleset,
                as_of=self.as_of(s, holder),
                at=at,
                trigger="enrol",
            )
            m = pii.masked()
            return {
                "holder_id": holder.id,
                "region": holder.region,
                "name_masked": m["name_masked"],
                "id_masked": m["id_masked"],
            }

    def as_of(self, s: Session, holder: Holder) -> datetime:
        """Evaluation instant for a holder: now, or the demo date for DEMO holders."""
        if holder.demo:
            run = s.execute(
                select(ImportRun)
                .where(ImportRun.kind == "demo")
                .order_by(ImportRun.created_at.desc())
                .limit(1)
            ).scalar()
            if run is not None and run.summary.get("as_of"):
                return datetime.fromisoformat(run.summary["as_of"])
        return self.now()

    def holder_view(self, holder_id: str, *, actor: str) -> dict[str, Any]:
        """What the holder's own page shows (masked data, status, reasons, history, latest test).

        Reading is audited (``holder:read``). :raises NotFound: unknown holder.
        """
        at = self.now()
        with self.db.session() as s:
            h = get_holder(s, holder_id)
            pii = read_pii(s, h, self.keys, actor=actor, purpose="holder page", at=at)
            facts = gather_facts(s, self.keys, h)
            cur = status_svc.current_status(s, h.id)
            if cur is None:
                cur, _ = status_svc.evaluate_holder(
                    s, self.keys, h, self.ruleset, as_of=self.as_of(s, h), at=at
                )
            region = region_of(h.region)
            issuer = s.get(Issuer, region.code if region else h.region)
            latest = _latest_test(facts)
            from healthcode.ecerts.service import holder_certificates

            certificates = holder_certificates(
                s, h, facts=facts, name=pii.name, birth_date=pii.birth_date, at=at,
                master=self.settings.master_key, public_url=self.settings.public_url,
            )  # fmt: skip
            return {
                "holder_id": h.id,
                "region": h.region,
                "issuer": {
                    "code": issuer.code,
                    "name": issuer.name,
                    "code_name": region.code_name_for(h.region) if region else issuer.code_name,
                }
                if issuer
                else None,
                **pii.masked(),
                "demo": h.demo,
                "status": _status_dict(cur),
                "history": [_status_dict(x) for x in status_svc.history(s, h.id)],
                "latest_test": None
                if latest is None
                else {
                    "kind": latest.kind,
                    "result": latest.result,
                    "sampled_at": latest.sampled_at.isoformat(),
                    # counted from the status's evaluation instant: the demo date for DEMO holders
                    "hours_since": int(
                        ((cur.as_of if h.demo else at) - latest.sampled_at).total_seconds() // 3600
                    ),
                },
                "doses": _doses(facts),
                "certificates": certificates,
            }

    # -- codes -------------------------------------------------------------------
    def issue_code(self, holder_id: str, *, actor: str = "cli") -> dict[str, Any]:
        """Sign a fresh short-lived ``HP1:`` token for a holder.

        :returns: ``{"token", "expires_at", "colour", "status_code"}``.
        :raises NotFound: unknown or destroyed holder, or no active issuer key.
        """
        at = self.now().replace(microsecond=0)
        with self.db.session() as s:
            h = get_holder(s, holder_id)
            pii = read_pii(
                s, h, self.keys, actor=actor, purpose="issue code", at=at, audit_read=False
            )
            cur = status_svc.current_status(s, h.id)
            if cur is None or (cur.clears_at is not None and cur.clears_at <= self.as_of(s, h)):
                cur, _ = status_svc.evaluate_holder(
                    s, self.keys, h, self.ruleset, as_of=self.as_of(s, h), at=at, trigger="issue"
                )
            facts = gather_facts(s, self.keys, h)
            region = region_of(h.region)
            issuer_code = region.code if region else h.region
            key_row = issuers.active_key(s, issuer_code, "health-code")
            priv, alg, kid = issuers.signer_for(key_row, self.settings.master_key)
            expires = at + timedelta(seconds=self.settings.code_ttl_seconds)
            claims = HealthCodeClaims(
                issuer=issuer_code,
                subject=h.pseudonym,
                issued_at=at,
                expires_at=expires,
                name_masked=pii.masked()["name_masked"],
                id_tail=pii.id_number[-4:],
                colour=Colour(cur.colour),
                code_name=region.code_name_for(h.region) if region else "防疫健康信息码",
                reasons=tuple(r["rule"] for r in cur.reasons),
                latest_test=_latest_test(facts),
                doses=_doses(facts),
                demo=h.demo or key_row.demo,
            )
            token = native.encode(claims, key=priv, alg=alg, kid=kid)
            audit.append(
                s,
                tag=AuditTag.CREDENTIAL_ISSUE,
                actor=actor,
                at=at,
                subject=h.pseudonym,
                data={"kid": key_row.kid, "format": "native", "colour": cur.colour},
            )
            return {
                "token": token,
                "expires_at": expires.isoformat(),
                "colour": cur.colour,
                "status_code": cur.status_code,
            }

    # -- verification --------------------------------------------------------------
    #: How long (seconds) a server reuses the trust store it read from the database:
    #: a key rotated or revoked elsewhere takes effect within this time.
    TRUST_CACHE_SECONDS = 10.0

    def trust_store(self) -> TrustStore:
        """What this deployment's verifier trusts (its database's keys), cached briefly."""
        cached = self._trust_cache
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self.db.read() as s:
            store = issuers.trust_store_from_db(
                s,
                at=self.now(),
                production=self.settings.is_prod,
                clock_skew_seconds=self.settings.clock_skew_seconds,
                public_url=self.settings.public_url,
            )
            from healthcode.ecerts.service import add_revocations

            add_revocations(s, store, at=self.now())  # our revoked e-certificates
        self._add_foreign_trust(store)
        self._trust_cache = (time.monotonic() + self.TRUST_CACHE_SECONDS, store)
        return store

    def _add_foreign_trust(self, store: TrustStore) -> None:
        """Foreign issuers the deployment trusts (``HEALTHCODE_DCC_TRUST``, ``HEALTHCODE_SHC_ISSUER_KEYS``),
        so a checkpoint's verifier page accepts EU DCC / SMART Health Cards from them.

        Never raises: the server checked these files at start-up
        (:meth:`check_server_config`); one that breaks later is left out and recorded in
        ``store.unavailable`` (logged once per change), so our own codes still verify and
        a foreign credential whose signer is then not found says why
        (``foreign-trust-unavailable``).
        """
        from healthcode.credentials import trustload

        sources = trustload.load_configured_trust(
            self.settings.dcc_trust, self.settings.shc_issuer_keys, trust=store
        )
        bad = [s for s in sources if not s.ok]
        store.unavailable = [s.to_dict() for s in bad]
        problems = tuple(s.describe() for s in bad)
        if problems != self._trust_problems:
            for line in problems:
                log.error("foreign trust not loaded: %s", line)
            if not problems and self._trust_problems:
                log.warning("foreign trust loaded again: every configured file is usable")
            self._trust_problems = problems

    def check_server_config(self) -> list[Any]:
        """The server's start-up check: load the configured foreign trust and business rules
        now, refusing any file that cannot be used.

        :returns: the :class:`~healthcode.credentials.trustload.TrustSource` of each
            configured trust file (for the start-up log).
        :raises ConfigError: a file of ``HEALTHCODE_DCC_TRUST`` or
            ``HEALTHCODE_SHC_ISSUER_KEYS`` is unreadable or unusable (the message names the
            setting and the file), or ``HEALTHCODE_DCC_RULES`` is (per-entry problems in
            ``details["errors"]``).
        """
        from healthcode.credentials import trustload
        from healthcode.errors import ConfigError

        sources = trustload.load_configured_trust(
            self.settings.dcc_trust, self.settings.shc_issuer_keys, trust=TrustStore()
        )
        bad = [s for s in sources if not s.ok]
        if bad:
            raise ConfigError(
                "; ".join(s.describe() for s in bad)
                + " — fix or remove the file(s), then start again",
                details={"files": [s.to_dict() | {"path": s.path} for s in bad]},
            )
        self.verify_options()  # reads and checks HEALTHCODE_DCC_RULES
        return sources

    def verify_options(self) -> VerifyOptions:
        """The options of this deployment's verifications when none are given (the web
        verifier's): the same DCC schemas and value sets as ``healthcode verify``, read
        once from ``$HEALTHCODE_SHARED/vectors/dcc-schema`` (see :func:`default_verify_options`),
        and the business rules of ``HEALTHCODE_DCC_RULES`` for ``HEALTHCODE_DCC_COUNTRY``
        (default ``CN``), read once.

        :raises ConfigError: ``HEALTHCODE_DCC_RULES`` cannot be read or is not a valid
            rules file (the server checks this at start-up: :meth:`check_server_config`).
        """
        options = self._verify_options
        if options is None:
            options = default_verify_options(self.settings.shared)
            if self.settings.dcc_rules:
                import dataclasses

                from healthcode.credentials.trustload import load_dcc_rules
                from healthcode.errors import ConfigError, HealthCodeError

                try:
                    rules = load_dcc_rules(self.settings.dcc_rules)
                except HealthCodeError as exc:
                    raise ConfigError(
                        f"HEALTHCODE_DCC_RULES: {exc.message}", details=exc.details
                    ) from exc
                options = dataclasses.replace(
                    options, rules=rules, country=self.settings.rules_country
                )
            self._verify_options = options
        return options

    def forget_trust(self) -> None:
        """Drop the cached trust store (after this process rotated or revoked a key)."""
        self._trust_cache = None

    def verify(
        self,
        texts: Sequence[str],
        *,
        trust: TrustStore | None = None,
        at: datetime | None = None,
        options: VerifyOptions | None = None,
        picture: bool | None = None,
        actor: str = "cli",
    ) -> VerificationReport:
        """Verify QR text(s); the verdict and reason codes (never the token) are audited.

        Several texts are accepted only as the chunks of one SMART Health Card;
        anything else (two codes pasted, two QR symbols in one picture) is
        ``several-codes``, never the verdict of whichever came first.
        """
        texts = list(texts)
        if len(texts) > 1 and not all(detect_format(clean_scanned_text(t)) == "shc" for t in texts):
            report = VerificationReport.start("unknown", ["picture", "prefix"])
            report.stages["picture"] = picture
            report.fail("prefix", SeveralCodes.code)
        else:
            store = trust or self.trust_store()
            report = verify(
                texts,
                trust=store,
                at=at or self.now(),
                options=options or self.verify_options(),
                picture=picture,
            )
            report.note_unavailable_trust(store.unavailable)
        self._audit_verify(report, actor)
        return report

    def verify_image(self, data: bytes, **kw: Any) -> VerificationReport:
        """Read the QR symbol(s) of an image, then verify; anything that is not a readable
        image is a report too (``picture-unreadable``)."""
        if not looks_like_image(data):
            return self.verify_scanned(
                ScannedInput([], picture=False, error="picture-unreadable"), **kw
            )
        return self.verify_scanned(from_bytes(data), **kw)

    def verify_scanned(self, scanned: ScannedInput, **kw: Any) -> VerificationReport:
        """Verify what :func:`healthcode.credentials.inputs.from_bytes` read from a file or upload.

        A ``.smart-health-card`` file may hold several cards: the report is the first
        card's, valid only when every card is, with all of them under ``details.cards``.
        """
        actor = kw.pop("actor", "cli")
        if scanned.picture is False:
            report = VerificationReport.start("unknown", ["picture", "prefix"])
            report.fail("picture", scanned.error or "picture-unreadable")
        elif scanned.card_file is not None:
            from healthcode.credentials import shc

            store = kw.get("trust") or self.trust_store()
            reports = shc.verify_file(
                scanned.card_file, name=scanned.name, trust=store, at=kw.get("at") or self.now()
            )
            for one in reports:
                one.note_unavailable_trust(store.unavailable)
            report = reports[0]
            if len(reports) > 1:
                report.details["cards"] = [r.to_dict() for r in reports]
                if not all(r.ok for r in reports[1:]):
                    report.reasons.append("card-invalid")
        else:
            return self.verify(scanned.texts, picture=scanned.picture, actor=actor, **kw)
        self._audit_verify(report, actor)
        return report

    def _audit_verify(self, report: VerificationReport, actor: str) -> None:
        entry = {
            "tag": AuditTag.CREDENTIAL_VERIFY,
            "actor": actor,
            "subject": "",
            "data": {"format": report.format, "verdict": report.verdict, "reasons": report.reasons},
        }
        if self._flusher is not None:
            with self._buffer_lock:
                self._audit_buffer.append(entry)
            return
        with self.db.session() as s:
            audit.append(
                s,
                tag=AuditTag.CREDENTIAL_VERIFY,
                actor=actor,
                at=self.now(),
                data={
                    "format": report.format,
                    "verdict": report.verdict,
                    "reasons": report.reasons,
                },
            )

    def anchor_keys(self) -> list[bytes]:
        """SPKI DER of the national trust anchors this deployment pins."""
        with self.db.read() as s:
            return issuers.anchor_keys(s)

    def trust_list(self, *, actor: str = "cli") -> dict[str, Any]:
        """The signed trust list (see :mod:`healthcode.issuers.service`), with our
        e-certificates' revocations (:mod:`healthcode.ecerts.revocation`)."""
        from healthcode.ecerts.service import published_revocations

        with self.db.session() as s:
            return issuers.build_trust_list(
                s,
                master=self.settings.master_key,
                at=self.now(),
                public_url=self.settings.public_url,
                revocations=published_revocations(s, at=self.now()),
            )

    # -- e-certificates (电子证照) -------------------------------------------------------
    def issue_certificate(
        self,
        holder_id: str,
        *,
        kind: str = "vaccination",
        format: str = "hc1",
        actor: str = "cli",
        reuse: bool = False,
    ) -> IssuedCertificate:
        """Sign a holder's vaccination or latest test as an EU DCC (``hc1``) or a SMART
        Health Card (``shc``) with their region's e-certificate key (see
        :mod:`healthcode.ecerts.service`); recorded for revocation and audited as
        ``credential:issue`` (kid, format, kind, certificate ID).

        :param reuse: the holder's current certificate of that kind and format, when there
            is one (unchanged records, not revoked, a day or more left, same key), shown
            again — same ID, times and text — instead of a new one (the holder page).
        :raises NotFound: unknown holder, or no key in production; :raises NoRecords: no such
            record; :raises CertificateOptionInvalid: unknown kind or format.
        """
        from healthcode.ecerts.service import issue

        with self.db.session() as s:
            cert = issue(
                s, self.keys, holder_id, kind=kind, fmt=format, at=self.now(),
                master=self.settings.master_key, production=self.settings.is_prod,
                public_url=self.settings.public_url, actor=actor, reuse=reuse,
            )  # fmt: skip
        if cert.new_key:
            # a key made on first use: a trust store this process cached before it lacks it
            self._trust_cache = None
        return cert

    def show_certificate(
        self, holder_id: str, certificate_id: str, *, actor: str = "holder"
    ) -> IssuedCertificate:
        """One of the holder's certificates again, for its QR, PNG, PDF or text: same ID,
        times and text as when issued (:func:`healthcode.ecerts.service.render`).

        :raises CertificateNotFound: not one of this holder's; :raises CertificateNotCurrent:
            revoked, expired, superseded or its records changed (issue a new one).
        """
        from healthcode.ecerts.service import render

        with self.db.session() as s:
            return render(
                s, self.keys, holder_id, certificate_id, at=self.now(),
                master=self.settings.master_key, production=self.settings.is_prod,
                public_url=self.settings.public_url, actor=actor,
            )  # fmt: skip

    def certificate_pdf(self, cert: IssuedCertificate) -> bytes:
        """The printable PDF of ``cert`` (:func:`healthcode.ecerts.pdf.render_pdf`), with the
        CJK font found on this machine (``HEALTHCODE_CJK_FONT`` or the usual places); without
        one the PDF is Latin only and says so."""
        from healthcode.ecerts.pdf import find_cjk_font, render_pdf

        return render_pdf(cert, font=find_cjk_font(self.settings.cjk_font or None))

    def revoke_certificate(self, ident: str, *, reason: str, actor: str = "cli") -> dict[str, Any]:
        """Revoke one of our e-certificates by certificate ID or UVCI; audited as
        ``credential:revoke``. Returns the record (:func:`healthcode.ecerts.service.certificate_dict`).
        This process's verifier refuses the certificate at once, other processes within
        :data:`TRUST_CACHE_SECONDS`; the trust list and the SHC CRL list it from now on.

        :raises CertificateIdInvalid: not an ID or UVCI of ours (or a mistyped check
            character); :raises CertificateNotFound; :raises CertificateAlreadyRevoked;
            :raises RevocationReasonInvalid: empty or over 200 characters.
        """
        from healthcode.ecerts import service as ecerts

        at = self.now()
        with self.db.session() as s:
            row = ecerts.revoke(s, ident, reason=reason, at=at, actor=actor)
            out = ecerts.certificate_dict(row, at=at)
        self.forget_trust()
        return out

    def list_certificates(self, holder_id: str) -> list[dict[str, Any]]:
        """A holder's e-certificates, newest first (records only: no payload, no personal data).

        :raises NotFound: unknown holder.
        """
        from healthcode.ecerts import service as ecerts

        at = self.now()
        with self.db.read() as s:
            return [
                ecerts.certificate_dict(r, at=at) for r in ecerts.list_certificates(s, holder_id)
            ]

    def issuer_key_set(self, code: str) -> dict[str, Any]:
        """The SMART Health Card key set (JWKS) of issuer ``code``: ``{"keys": [JWK, …]}``
        (served at ``{iss}/.well-known/jwks.json``; empty until the region signs a card).
        Each key announces ``crlVersion``, the ``ctr`` of its revocation list
        (:meth:`issuer_crl`).

        :raises NotFound: no such issuer.
        """
        from healthcode.ecerts.service import crl_versions

        with self.db.read() as s:
            if s.get(Issuer, code) is None:
                raise NotFound(f"no issuer {code!r}")
            rows = issuers.listed_ecert_keys(s, "shc", self.now())
            versions = crl_versions(s)
            return {
                "keys": [
                    {**issuers.shc_jwk(k), "crlVersion": versions.get(k.kid, 1)}
                    for k in rows
                    if k.issuer_code == code
                ]
            }

    def issuer_crl(self, code: str, kid: str) -> dict[str, Any]:
        """The card revocation list of SHC key ``kid`` of issuer ``code`` (served at
        ``{iss}/.well-known/crl/{kid}.json``): ``{"kid", "method": "rid", "ctr", "rids"}``.

        :raises NotFound: no such issuer, or no key ``kid`` in its key set.
        """
        from healthcode.ecerts.service import shc_crls

        with self.db.read() as s:
            rows = issuers.listed_ecert_keys(s, "shc", self.now())
            if not any(k.kid == kid and k.issuer_code == code for k in rows):
                raise NotFound(f"issuer {code!r} has no SMART Health Card key {kid!r}")
            return shc_crls(s, [kid])[kid]

    # -- facts and risk areas ---------------------------------------------------------
    def import_facts(
        self, kind: str, rows: list[dict[str, Any]], *, source: str, actor: str = "cli"
    ) -> dict[str, Any]:
        """All-or-nothing fact import, then re-evaluation of the holders it touched."""
        at = self.now()
        with self.db.session() as s:
            report = import_facts(s, self.keys, kind, rows, at=at, source=source, actor=actor)
            changed = 0
            for hid in report["holders"]:
                h = get_holder(s, hid)
                _, did = status_svc.evaluate_holder(
                    s,
                    self.keys,
                    h,
                    self.ruleset,
                    as_of=self.as_of(s, h),
                    at=at,
                    trigger=f"facts:{kind}",
                )
                changed += did
            report["status_changes"] = changed
            report["holders"] = len(report["holders"])
            return report

    def import_risk_areas(
        self, path: Path, *, actor: str = "cli", progress: Progress | None = None
    ) -> dict[str, Any]:
        """Replace the risk-area list (all-or-nothing) and re-evaluate only affected holders."""
        at = self.now()
        with self.db.session() as s:
            result = riskareas.import_episodes(
                s, path, place_index=self.keys.place_index, at=at, actor=actor, progress=progress
            )
            affected = status_svc.holders_at_places(s, result["changed_places"])
            counts = status_svc.reevaluate_many(
                s, self.keys, self.ruleset, affected, as_of=self._as_of_fn(s), at=at, trigger="risk-areas",
                signer=issuers.checkpoint_signer(s, self.settings.master_key),
            )  # fmt: skip
            changed = counts["changed"]
            return {
                "import_id": result["import_id"],
                "rows": result["rows"],
                "changed_places": len(result["changed_places"]),
                "holders_reevaluated": len(affected),
                "status_changes": changed,
                "sha256": result["sha256"],
            }

    def reevaluate_all(self, *, progress: Progress | None = None) -> dict[str, int]:
        """Re-evaluate every holder (e.g. after a rule-set change); changes audited."""
        at = self.now()
        with self.db.session() as s:
            return status_svc.reevaluate_many(
                s, self.keys, self.ruleset, None, as_of=self._as_of_fn(s), at=at, trigger="reevaluate-all",
                progress=progress, signer=issuers.checkpoint_signer(s, self.settings.master_key),
            )  # fmt: skip

    def _as_of_fn(self, s: Session) -> Callable[[bool], datetime]:
        """Evaluation instant by DEMO flag (demo holders: the demo date; others: now)."""
        now = self.now()
        run = s.execute(
            select(ImportRun)
            .where(ImportRun.kind == "demo")
            .order_by(ImportRun.created_at.desc())
            .limit(1)
        ).scalar()
        demo_at = (
            datetime.fromisoformat(run.summary["as_of"])
            if run is not None and run.summary.get("as_of")
            else now
        )
        return lambda demo: demo_at if demo else now

    def list_risk_areas(self, **kw: Any) -> list[dict[str, Any]]:
        with self.db.read() as s:
            return riskareas.list_areas(s, **kw)

    # -- trip card (通信行程卡) and retention -------------------------------------------
    @functools.cached_property
    def trips(self) -> TripService:
        """Trip-card use cases (see :mod:`healthcode.trips.service`)."""
        from healthcode.trips.service import TripService

        return TripService(self)

    def import_trip_records(self, paths: Sequence[str | Path], **kw: Any) -> dict[str, Any]:
        """Store location records, all or none (``trip:import``). :raises RecordsRejected:."""
        return self.trips.import_records(paths, **kw)

    def build_trip_cards(self, as_of: date, **kw: Any) -> BuildResult:
        """Build and store every phone's card for ``as_of`` (``trip:build``); re-evaluates
        the holders whose phones got or lost a card. :raises ServiceEnded:."""
        return self.trips.build(as_of, **kw)

    def trip_card(self, phone: str, *, as_of: date, **kw: Any) -> CardAnswer:
        """One phone's card (stored, computed, or from files; ``trip:read``)."""
        return self.trips.card(phone, as_of=as_of, **kw)

    def retention_sweep(self, *, at: datetime | None = None, actor: str = "cli") -> dict[str, Any]:
        """Delete what is past its retention (``retention:sweep``); see :mod:`healthcode.retention`."""
        from healthcode.retention.sweep import sweep_all

        with self.db.session() as s:
            return sweep_all(s, at=at or self.now(), actor=actor, now=self.now())

    # -- audit ----------------------------------------------------------------------
    def audit_verify(self) -> audit.ChainReport:
        """Check the hash chain and its signed checkpoints, then that every holder's
        current status is the one its last audited status change recorded."""
        with self.db.read() as s:
            report = audit.verify_chain(s, verifier=issuers.checkpoint_verifier(s))
            if not report.ok:
                return report
            keys = s.execute(select(func.count()).select_from(SigningKey)).scalar_one()
            if keys and report.entries == 0:
                return audit.ChainReport(
                    False, 0, report.checkpoints, 1, "the audit log is empty but keys exist"
                )
            audited: dict[str, tuple[str, list[str]]] = {}
            for subject, data in s.execute(
                select(AuditEntry.subject, AuditEntry.data)
                .where(AuditEntry.tag == AuditTag.STATUS_CHANGE)
                .order_by(AuditEntry.seq)
            ):
                audited[subject] = (data.get("to"), list(data.get("rules") or []))
            for hid, colour, reasons in s.execute(
                select(Status.holder_id, Status.colour, Status.reasons).where(
                    Status.current.is_(True)
                )
            ):
                if audited.get(hid) != (colour, [r.get("rule") for r in reasons]):
                    return audit.ChainReport(
                        False, report.entries, report.checkpoints, None,
                        f"holder {hid}'s current status ({colour}) is not the one its audit entries record",
                    )  # fmt: skip
            return report

    def audit_checkpoint(self) -> None:
        with self.db.session() as s:
            audit.checkpoint(
                s, signer=issuers.checkpoint_signer(s, self.settings.master_key), at=self.now()
            )

    # -- admin ----------------------------------------------------------------------
    def admin_overview(self) -> dict[str, Any]:
        with self.db.read() as s:
            keys = list(
                s.execute(
                    select(SigningKey).order_by(SigningKey.issuer_code, SigningKey.created_at)
                ).scalars()
            )
            return {
                "issuers": [
                    {
                        "code": i.code, "name": i.name, "code_name": i.code_name,
                        "keys": [{"kid": k.kid, "purpose": k.purpose, "alg": k.alg, "status": k.status, "demo": k.demo} for k in keys if k.issuer_code == i.code],
                    }
                    for i in s.execute(select(Issuer).order_by(Issuer.code)).scalars()
                ],
                "ruleset": {"ref": self.ruleset.ref, "summary": self.ruleset.summary, "rules": [{"id": r.id, "version": r.version, "colour": r.colour.value, "summary": r.summary, "source": r.source} for r in self.ruleset.rules]},
                "imports": [
                    {"id": r.id, "kind": r.kind, "source": r.source, "rows": r.rows, "created_at": r.created_at.isoformat(), "summary": r.summary}
                    for r in s.execute(select(ImportRun).order_by(ImportRun.created_at.desc()).limit(50)).scalars()
                ],
                "holders": s.execute(select(func.count()).select_from(Holder)).scalar_one(),
                "audit_entries": audit.count_entries(s),
            }  # fmt: skip


def _status_dict(st: Status) -> dict[str, Any]:
    return {
        "colour": st.colour,
        "status_code": st.status_code,
        "reasons": st.reasons,
        "clears_at": st.clears_at.isoformat() if st.clears_at else None,
        "evaluated_at": st.evaluated_at.isoformat(),
        "as_of": st.as_of.isoformat(),
        "ruleset": st.ruleset,
        "trigger": st.trigger,
    }


def _latest_test(facts: dict[str, list[dict[str, Any]]]) -> LatestTest | None:
    tests = facts.get("tests") or []
    if not tests:
        return None
    t = max(tests, key=lambda x: x["sampled_at"])
    return LatestTest(t["kind"], t["result"], datetime.fromisoformat(t["sampled_at"]))


def _doses(facts: dict[str, list[dict[str, Any]]]) -> int:
    return max((int(v["dose"]) for v in facts.get("vaccinations") or []), default=0)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["HealthCode", "NotFound"]
