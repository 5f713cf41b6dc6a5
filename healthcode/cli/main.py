"""``healthcode`` command line.

Exit codes: 0 success; 1 a negative result (an invalid code, a failed check, a
refused record); 2 bad options or an unreadable file. ``--json`` prints exactly
one JSON object on stdout (UTF-8, non-ASCII unescaped); messages go to stderr.
Every command takes ``--db URL_OR_PATH`` (or ``HEALTHCODE_DB``) and creates or
migrates the database on first use.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from healthcode.clock import SHANGHAI, parse_instant
from healthcode.config import Settings, load_settings
from healthcode.errors import HealthCodeError

F = TypeVar("F", bound=Callable[..., Any])


#: Errors that mean an option or its file cannot be used at all (exit 2), whatever their HTTP status.
USAGE_CODES = {"trust-list-invalid", "trust-file-invalid", "config-invalid"}


def emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=None, default=str))


def fail(exc: HealthCodeError, *, as_json: bool) -> NoReturn:
    """Report a HealthCodeError and exit (2 for unreadable input/usage, else 1)."""
    if as_json:
        emit(exc.to_dict())
    click.echo(f"error [{exc.code}]: {exc.message}", err=True)
    if isinstance(exc.details, dict) and exc.details.get("errors") and not as_json:
        for e in exc.details["errors"][:50]:
            where = f"line {e.get('line')}"
            if "line" not in e and "index" in e:  # an entry of a JSON array (0-based)
                where = f"entry {e['index']}" + (
                    f" ({e['identifier']})" if e.get("identifier") else ""
                )
            field = f"{e['field']} " if e.get("field") else ""
            click.echo(f"  {where}: {field}{e.get('message')}", err=True)
    raise SystemExit(2 if exc.status == 400 or exc.code in USAGE_CODES else 1)


def db_option(fn: F) -> F:
    """``--db`` on every sub-command (also accepted before the sub-command)."""

    @click.option("--db", "db", default=None, help="SQLite path or database URL (HEALTHCODE_DB).")
    @functools.wraps(fn)
    def wrapper(*args: Any, db: str | None = None, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        if db:
            ctx.obj["db"] = db
        return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def settings_from_ctx() -> Settings:
    ctx = click.get_current_context()
    try:
        s = load_settings()
    except HealthCodeError as exc:
        fail(exc, as_json=False)
    return s.with_db(ctx.obj.get("db"))


def service(settings: Settings | None = None) -> Any:
    from healthcode.service import HealthCode

    settings = settings or settings_from_ctx()
    try:
        return HealthCode(settings)
    except HealthCodeError as exc:
        fail(exc, as_json=_wants_json())
    except SQLAlchemyError as exc:
        from healthcode.errors import ConfigError

        first = str(exc).splitlines()[0][:300]
        fail(
            ConfigError(f"cannot open the database {settings.db!r}: {first}"), as_json=_wants_json()
        )


def _wants_json() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.params.get("as_json"))


def parse_time_option(value: str, what: str) -> datetime:
    """ISO-8601 instant; a date or a time without offset is read as Asia/Shanghai."""
    try:
        return parse_instant(value, default_tz=SHANGHAI)
    except ValueError as exc:
        raise click.BadParameter(f"not an ISO-8601 time: {value!r}", param_hint=what) from exc


@click.group()
@click.option("--db", "db", default=None, help="SQLite path or database URL (HEALTHCODE_DB).")
@click.version_option(package_name="healthcode")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """healthcode — signed, verifiable, explainable health codes (健康码)."""
    ctx.ensure_object(dict)
    if db:
        ctx.obj["db"] = db


# --------------------------------------------------------------------------- serve
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--demo", is_flag=True, help="Load the DEMO data first (see `healthcode demo`).")
@click.option("--demo-date", default=None, help="Demo evaluation date (default 2022-11-20).")
@db_option
def serve(host: str, port: int, workers: int, demo: bool, demo_date: str | None) -> None:
    """Run the web server (holder page, verifier page, admin page, API).

    Without HEALTHCODE_PUBLIC_URL the server's public URL is the one it serves,
    http://HOST:PORT (0.0.0.0 → 127.0.0.1): SMART Health Cards name their issuer with it."""
    import uvicorn

    settings = settings_from_ctx().served_at(host, port)
    app_svc = service(settings)
    try:  # refuse to start with configured trust or rules files that cannot be used
        sources = app_svc.check_server_config()
    except HealthCodeError as exc:
        app_svc.close()
        fail(exc, as_json=False)
    from healthcode.cli.verifying import server_trust_lines

    for line in server_trust_lines(settings, sources, app_svc.verify_options()):
        click.echo(line, err=True)
    if demo:
        from healthcode.demo import load_demo

        try:
            summary = load_demo(app_svc, demo_date=demo_date, progress=_progress("risk areas"))
        except HealthCodeError as exc:
            fail(exc, as_json=False)
        _print_demo(summary, base=settings.public_url)
    app_svc.close()
    click.echo(
        f"healthcode serving on http://{host}:{port}  (database: {settings.db}; "
        f"public URL {settings.public_url})",
        err=True,
    )
    if workers > 1:
        import os

        os.environ["HEALTHCODE_DB"] = settings.db
        os.environ["HEALTHCODE_PUBLIC_URL"] = settings.public_url
        uvicorn.run(
            "healthcode.cli.asgi:app_from_env",
            host=host,
            port=port,
            workers=workers,
            factory=True,
            log_level="info",
        )
    else:
        from healthcode.web.app import create_app

        try:
            app = create_app(settings)
        except HealthCodeError as exc:  # a configured file broke since the check above
            fail(exc, as_json=False)
        uvicorn.run(app, host=host, port=port, log_level="info")


# --------------------------------------------------------------------------- holders
@cli.group()
def holder() -> None:
    """Holders (real-name enrolment)."""


@holder.command("enrol")
@click.option("--name", required=True, help="Full name (any script; · allowed).")
@click.option("--id-number", required=True)
@click.option(
    "--id-type",
    default="resident-id",
    show_default=True,
    type=click.Choice(
        [
            "resident-id",
            "hkmt-residence-permit",
            "foreign-permanent-residence",
            "passport",
            "hkm-travel-permit",
            "tw-travel-permit",
        ]
    ),
)
@click.option("--nationality", default=None, help="ISO 3166-1 code (passports).")
@click.option("--phone", required=True, help="Mainland mobile number.")
@click.option("--region", required=True, help="GB/T 2260 code, e.g. 110000.")
@click.option("--json", "as_json", is_flag=True)
@db_option
def holder_enrol(
    name: str,
    id_number: str,
    id_type: str,
    nationality: str | None,
    phone: str,
    region: str,
    as_json: bool,
) -> None:
    """Enrol a holder: validates the ID (GB 11643 check digit), phone and region."""
    svc = service()
    try:
        out = svc.enrol(
            name=name,
            id_number=id_number,
            id_type=id_type,
            nationality=nationality,
            phone=phone,
            region=region,
        )
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit(out)
    else:
        click.echo(
            f"enrolled {out['holder_id']}  {out['name_masked']}  {out['id_masked']}  region {out['region']}"
        )


# --------------------------------------------------------------------------- code
@cli.command("code")
@click.argument("holder_id")
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--png",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the QR as PNG.",
)
@db_option
def code_cmd(holder_id: str, as_json: bool, png: str | None) -> None:
    """Issue a fresh signed, short-lived health-code token for a holder."""
    if png:
        _check_writable(png)
    svc = service()
    try:
        out = svc.issue_code(holder_id)
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if png:
        from healthcode.credentials.qr import encode_png

        Path(png).write_bytes(encode_png(out["token"]))
    if as_json:
        emit(out)
    else:
        click.echo(out["token"])
        click.echo(f"{out['colour']} ({out['status_code']}), expires {out['expires_at']}", err=True)


# --------------------------------------------------------------------------- certificate
class _CertificateGroup(click.Group):
    """``certificate HOLDER_ID [options]`` issues (the ``issue`` sub-command);
    ``certificate revoke|list …`` are sub-commands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if len(args) > 2 and args[0] == "--db" and args[2] in self.commands:
            args = [args[2], *args[:2], *args[3:]]  # `certificate --db X list …`
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["issue", *args]
        return super().parse_args(ctx, args)


@cli.group("certificate", cls=_CertificateGroup)
def certificate() -> None:
    """E-certificates (电子证照): issue, revoke, list.

    \b
    healthcode certificate HOLDER_ID [--kind K] [--format F] ...   issue (same as "issue")
    healthcode certificate revoke UVCI_OR_ID --reason R [--json]
    healthcode certificate list HOLDER_ID [--json]
    """


@certificate.command("issue")
@click.argument("holder_id")
@click.option(
    "--kind", default="vaccination", show_default=True, type=click.Choice(["vaccination", "test"])
)
@click.option(
    "--format", "fmt", default="hc1", show_default=True, type=click.Choice(["hc1", "shc"]),
    help="hc1: EU DCC / WHO GDHCN; shc: SMART Health Card.",
)  # fmt: skip
@click.option("--png", type=click.Path(dir_okay=False, writable=True), default=None, help="Also write the QR as PNG.")  # fmt: skip
@click.option("--pdf", type=click.Path(dir_okay=False, writable=True), default=None, help="Also write a printable PDF.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@db_option
def certificate_cmd(
    holder_id: str, kind: str, fmt: str, png: str | None, pdf: str | None, as_json: bool
) -> None:
    """Issue an e-certificate (电子证照) of a holder's vaccination or latest test."""
    svc = service()
    try:
        cert = svc.issue_certificate(holder_id, kind=kind, format=fmt)
        if png:
            from healthcode.credentials.qr import encode_png

            _write(png, encode_png(cert.text))
        if pdf:
            from healthcode.ecerts.pdf import font_missing_warning

            _write(pdf, svc.certificate_pdf(cert))
            warning = font_missing_warning(svc.settings.cjk_font or None)
            if warning:
                click.echo(f"warning: {warning}", err=True)
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit(cert.to_dict())
    else:
        click.echo(cert.text)
        ident = f"UVCI {cert.uvci}" if cert.uvci else f"rid {cert.rid}"
        click.echo(
            f"{kind} ({fmt}) {cert.id}, {ident}, kid {cert.kid}, "
            f"expires {cert.expires_at.isoformat()}",
            err=True,
        )


def _write(path: str, data: bytes) -> None:
    """:raises FileUnreadable: the file cannot be written (exit 2)."""
    from healthcode.errors import FileUnreadable

    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise FileUnreadable(f"cannot write {path}: {exc}") from exc


@certificate.command("revoke")
@click.argument("ident", metavar="UVCI_OR_ID")
@click.option("--reason", required=True, help="Why (1-200 characters; kept and audited).")
@click.option("--json", "as_json", is_flag=True)
@db_option
def certificate_revoke(ident: str, reason: str, as_json: bool) -> None:
    """Revoke one e-certificate by its certificate ID or UVCI (check character optional).

    From then on the trust list and the SMART Health Card revocation list name it, and
    verifiers that use them report it invalid (revocation failed).
    """
    svc = service()
    try:
        out = svc.revoke_certificate(ident, reason=reason)
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit(out)
    else:
        what = out["uvci"] or f"rid {out['rid']}"
        click.echo(f"revoked {out['id']} ({out['format']} {out['kind']}, {what})")


@certificate.command("list")
@click.argument("holder_id")
@click.option("--json", "as_json", is_flag=True)
@db_option
def certificate_list(holder_id: str, as_json: bool) -> None:
    """A holder's e-certificates, newest first: ID, format, kind, status, UVCI or rid,
    issue and expiry times (and revocation)."""
    svc = service()
    try:
        rows = svc.list_certificates(holder_id)
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit({"holder_id": holder_id, "certificates": rows})
        return
    for r in rows:
        ident = f"UVCI {r['uvci']}" if r["uvci"] else f"rid {r['rid']}"
        click.echo(
            f"{r['id']}  {r['format']:<3}  {r['kind']:<11}  {r['status']:<7}  {ident}  "
            f"issued {r['issued_at']}  expires {r['expires_at']}"
            + (f"  revoked {r['revoked_at']}: {r['reason']}" if r["revoked_at"] else "")
        )
    if not rows:
        click.echo("no e-certificates", err=True)


# --------------------------------------------------------------------------- verify
@cli.command("verify")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "--at",
    "at_text",
    default=None,
    help="Validation clock, ISO 8601: 2021-06-01 (00:00 UTC), 2021-06-01T12:00:00Z or "
    "2021-06-01T20:00:00+08:00; no offset means UTC (not Asia/Shanghai). Default: now.",
)
@click.option(
    "--trust-list",
    "trust_list",
    default=None,
    help="Our signed trust list, or an EU DCC trust-list JSON.",
)
@click.option(
    "--trust-anchor",
    "trust_anchors",
    multiple=True,
    help="National trust-anchor public key (PEM/DER) --trust-list must be signed by "
    "(default: this database's anchor).",
)
@click.option(
    "--trust-cert",
    "trust_certs",
    multiple=True,
    help="EU DCC signer certificate (PEM, DER or base64 DER); repeatable.",
)
@click.option(
    "--issuer-keys",
    "issuer_keys",
    multiple=True,
    help="SMART Health Card issuer JWKS file ([ISS=]PATH); repeatable.",
)
@click.option(
    "--revocation",
    "revocations",
    multiple=True,
    help="Revocation list: DCC (JSON array, or one UVCI/hash a line) or SHC CRL; "
    "repeatable. A list that cannot be read completely is refused (exit 2).",
)
@click.option(
    "--rules",
    "rules_file",
    default=None,
    help="EU DCC business rules: a JSON array in the DCC Gateway rule format, every entry "
    "checked when loaded (exit 2 with a per-entry report if any is malformed); needs --country.",
)
@click.option(
    "--country",
    default=None,
    help="Destination for --rules, ISO 3166-1 alpha-2 (e.g. CN); needs --rules.",
)
@click.option("--lenient-prefix", is_flag=True, help="Accept an HC1 payload without its prefix.")
@click.option("--json", "as_json", is_flag=True)
@db_option
def verify_cmd(
    inputs: tuple[str, ...], at_text: str | None, trust_list: str | None, trust_anchors: tuple[str, ...], trust_certs: tuple[str, ...],
    issuer_keys: tuple[str, ...], revocations: tuple[str, ...], rules_file: str | None, country: str | None,
    lenient_prefix: bool, as_json: bool,
) -> None:  # fmt: skip
    """Verify codes: INPUT is an image, a text file, a .smart-health-card file, or QR text.

    Several INPUTs only for the chunks of one multi-part SMART Health Card. Exit 0 valid,
    1 invalid, 2 for options or files that cannot be used (JSON files may start with a BOM).
    """
    from healthcode.cli.verifying import (
        build_options,
        build_trust,
        check_rule_options,
        parse_validation_clock,
        read_inputs,
        refused_key_sets,
    )

    settings = settings_from_ctx()
    try:
        at = parse_validation_clock(at_text) if at_text is not None else None
        check_rule_options(rules_file, country)
        scanned = read_inputs(inputs)
        explicit = bool(trust_list or trust_certs or issuer_keys)
        svc = service()
        at = at or svc.now()
        trust = build_trust(
            svc,
            settings,
            at=at,
            trust_list=trust_list,
            trust_anchors=trust_anchors,
            certs=trust_certs,
            issuer_keys=issuer_keys,
            revocations=revocations,
            explicit=explicit,
        )
        options = build_options(
            settings, rules_file=rules_file, country=country, lenient_prefix=lenient_prefix
        )
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    report = svc.verify_scanned(scanned, trust=trust, at=at, options=options)
    out = report.to_dict()
    refused = refused_key_sets(trust)
    if refused:
        out.setdefault("details", {})["refused_key_sets"] = refused
    if as_json:
        emit(out)
    else:
        from healthcode.cli.verifying import format_report

        click.echo(format_report(out))
    raise SystemExit(0 if report.ok else 1)


# --------------------------------------------------------------------------- facts
@cli.group()
def facts() -> None:
    """Facts: tests, vaccinations, declarations, contact lists, quarantine orders."""


@facts.command("import")
@click.argument(
    "kind", type=click.Choice(["tests", "vaccinations", "declarations", "contacts", "quarantine"])
)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
@db_option
def facts_import(kind: str, file: str, as_json: bool) -> None:
    """Import a CSV (or JSON array) of facts: all rows or none, with a per-row report.

    \b
    Every row names the holder: holder_id, or id_number [+ id_type].
    Times are ISO-8601 with an offset (2022-11-19T08:00:00+08:00).
    tests         kind (pcr|antigen), result (negative|positive), sampled_at
                  [, reported_at, lab]
    vaccinations  dose (1-10), date (YYYY-MM-DD) [, product]
    declarations  declared_at [, symptoms (fever;cough;...)]
                  [, province, city, county, community, start, end]  a stay
    contacts      kind (confirmed|suspected|asymptomatic|close|secondary|
                  companion), listed_at [, source]
    quarantine    kind (centralized|home|monitoring), start, end
    """
    from healthcode.errors import FileUnreadable, InputError
    from healthcode.facts.service import parse_csv

    try:
        try:
            text = Path(file).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise FileUnreadable(f"cannot read {file}: {exc}") from exc
        if text.lstrip().startswith("["):
            try:
                rows = json.loads(text)
            except ValueError as exc:
                raise InputError(f"{file}: malformed JSON: {exc}") from exc
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise InputError(f"{file}: a JSON import is an array of objects")
        else:
            rows = parse_csv(text)
        svc = service()
        out = svc.import_facts(kind, rows, source=Path(file).name)
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit(out)
    else:
        click.echo(
            f"imported {out['imported']} {kind} row(s) for {out['holders']} holder(s); {out['status_changes']} status change(s)"
        )


# --------------------------------------------------------------------------- risk areas
@cli.group("risk-areas")
def risk_areas() -> None:
    """Risk areas (中/高风险地区) from the national lists."""


class _Progress:
    """``progress(done, total)`` on stderr, never on stdout: click's progress bar when stderr
    is a terminal, else a plain line at every tenth of the way (logs, pipes, CI)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._done = 0
        self._next_tenth = 1

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if not self.tty:
            tenth = done * 10 // total
            if tenth >= self._next_tenth:
                click.echo(f"{self.label}: {done}/{total} ({tenth * 10} %)", err=True)
                self._next_tenth = tenth + 1
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self._bar.__enter__()
            self._done = 0
        self._bar.update(done - self._done)
        self._done = done
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None


def _progress(label: str) -> Callable[[int, int], None]:
    return _Progress(label)


@risk_areas.command("import")
@click.argument("file", required=False)
@click.option("--json", "as_json", is_flag=True)
@db_option
def risk_areas_import(file: str | None, as_json: bool) -> None:
    """Import risk_area_episodes.csv.gz (default: under HEALTHCODE_SHARED) — replaces the list."""
    settings = settings_from_ctx()
    try:
        path = (
            Path(file)
            if file
            else settings.shared_path("data", "risk_areas_nhc_2022", "risk_area_episodes.csv.gz")
        )
        if not path.is_file():
            from healthcode.errors import FileUnreadable, MissingSharedFile

            if file:
                raise FileUnreadable(f"cannot read {path}: no such file")
            raise MissingSharedFile(f"cannot read {path}: no such file")
        svc = service()
        click.echo(f"reading and checking {path.name}, then storing its listings", err=True)
        out = svc.import_risk_areas(path, progress=_progress("storing listings"))
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit(out)
    else:
        click.echo(
            f"imported {out['rows']} listing(s); {out['changed_places']} place(s) changed; "
            f"{out['holders_reevaluated']} holder(s) re-evaluated, {out['status_changes']} status change(s)"
        )


@risk_areas.command("list")
@click.option(
    "--at", "at_text", required=True, help="Instant (ISO-8601; no offset = Asia/Shanghai)."
)
@click.option("--province", default=None)
@click.option("--city", default=None)
@click.option("--level", type=click.Choice(["high", "medium", "low"]), default=None)
@click.option("--limit", type=click.IntRange(1), default=None)
@click.option("--json", "as_json", is_flag=True)
@db_option
def risk_areas_list(
    at_text: str,
    province: str | None,
    city: str | None,
    level: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """Areas listed at an instant (first_listed <= t < first_absent)."""
    at = parse_time_option(at_text, "--at")
    svc = service()
    areas = svc.list_risk_areas(at=at, province=province, city=city, level=level, limit=limit)
    if as_json:
        out: dict[str, Any] = {
            "at": at.astimezone(SHANGHAI).isoformat(),
            "count": len(areas),
            "areas": areas,
        }
        if limit is not None and len(areas) == limit:
            out["limited"] = True  # --limit cut the list; "count" is what is shown
        emit(out)
    else:
        for a in areas:
            click.echo(
                f"{a['level']:6} {a['province']} {a['city']} {a['county']} {a['community']}  ({a['first_listed']} → {a['first_absent'] or '…'})"
            )
        click.echo(
            f"{len(areas)} area(s) listed at {at.astimezone(SHANGHAI).isoformat()}", err=True
        )


@cli.group()
def status() -> None:
    """Holder statuses (colours)."""


@status.command("reevaluate")
@click.option("--json", "as_json", is_flag=True)
@db_option
def status_reevaluate(as_json: bool) -> None:
    """Re-evaluate every holder under the current rule set (changes are audited)."""
    out = service().reevaluate_all(progress=_progress("re-evaluating"))
    if as_json:
        emit(out)
    else:
        click.echo(f"evaluated {out['evaluated']} holder(s); {out['changed']} status change(s)")


# --------------------------------------------------------------------------- trust, keys, audit
@cli.group()
def trust() -> None:
    """The signed trust list (mutual recognition)."""


@trust.command("export")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None)
@db_option
def trust_export(out: str | None) -> None:
    """Write the signed trust list (stdout by default)."""
    svc = service()
    try:
        doc = svc.trust_list()
    except HealthCodeError as exc:
        fail(exc, as_json=False)
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    if out:
        _write_text(out, text + "\n")
        click.echo(f"trust list written to {out}", err=True)
    else:
        click.echo(text)


@trust.command("anchor")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None)
@db_option
def trust_anchor(out: str | None) -> None:
    """Write the national trust anchor's public key (PEM): what verifiers pin."""
    from cryptography.hazmat.primitives import serialization

    from healthcode.credentials.keys import load_public_der

    svc = service()
    pems = [
        load_public_der(der).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for der in svc.anchor_keys()
    ]
    text = b"".join(pems).decode()
    if out:
        _write_text(out, text)
        click.echo(f"trust anchor written to {out}", err=True)
    else:
        click.echo(text, nl=False)


def _check_writable(path: str) -> None:
    """Fail early (exit 2) when an output file cannot be written."""
    from healthcode.errors import FileUnreadable

    parent = Path(path).resolve().parent
    if not parent.is_dir():
        fail(FileUnreadable(f"cannot write {path}: no folder {parent}"), as_json=_wants_json())


def _write_text(path: str, text: str) -> None:
    from healthcode.errors import FileUnreadable

    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(FileUnreadable(f"cannot write {path}: {exc}"), as_json=False)


@cli.group()
def keys() -> None:
    """Issuer signing keys: list, create, rotate, revoke."""


#: Key purposes (``dcc-csca``: a region's CSCA, made with its first DSC; listed, never created).
KEY_PURPOSES = ["health-code", "trust-list", "dcc", "shc"]


@keys.command("list")
@click.option(
    "--purpose", "purposes", multiple=True,
    type=click.Choice([*KEY_PURPOSES, "dcc-csca"]), help="Only keys of this purpose (repeatable).",
)  # fmt: skip
@click.option("--issuer", default=None, help="Only this issuer's keys (GB/T 2260 code).")
@click.option("--json", "as_json", is_flag=True)
@db_option
def keys_list(purposes: tuple[str, ...], issuer: str | None, as_json: bool) -> None:
    """All issuers' keys (or those of one purpose or issuer): issuer, kid, purpose, alg,
    status, DEMO."""
    ov = service().admin_overview()
    rows = [
        dict(k, issuer=i["code"])
        for i in ov["issuers"]
        for k in i["keys"]
        if (not purposes or k["purpose"] in purposes) and (issuer is None or i["code"] == issuer)
    ]
    if as_json:
        emit({"keys": rows})
    else:
        for k in rows:
            click.echo(
                f"{k['issuer']} {k['kid']} {k['purpose']:11} {k['alg']:5} {k['status']:7}{' DEMO' if k['demo'] else ''}"
            )


@keys.command("rotate")
@click.argument("issuer")
@click.option(
    "--purpose",
    default="health-code",
    type=click.Choice(KEY_PURPOSES),
    help="dcc / shc: e-certificate keys (a dcc key gets a DSC from the region's CSCA).",
)
@db_option
def keys_rotate(issuer: str, purpose: str) -> None:
    """Create a new active key for ISSUER; the old one keeps verifying for the grace period.

    Like `keys create`: a DEMO key in local mode, a real one in production."""
    from healthcode.issuers import service as isv
    from healthcode.issuers.regions import BY_CODE

    if issuer not in BY_CODE:
        raise click.BadParameter(f"unknown issuer {issuer}", param_hint="ISSUER")

    svc = service()
    try:
        with svc.db.session() as s:
            row = isv.rotate_key(
                s,
                issuer=issuer,
                purpose=purpose,
                master=svc.settings.master_key,
                at=svc.now(),
                actor="cli",
                demo=isv.demo_keys(production=svc.settings.is_prod),
            )
            kid = row.kid
    except HealthCodeError as exc:
        fail(exc, as_json=False)
    click.echo(kid)


@keys.command("create")
@click.argument("issuer")
@click.option(
    "--purpose",
    default="health-code",
    type=click.Choice(KEY_PURPOSES),
    help="dcc / shc: e-certificate keys (a dcc key gets a DSC from the region's CSCA).",
)
@click.option("--alg", default="ES256", type=click.Choice(["ES256", "EdDSA"]))
@db_option
def keys_create(issuer: str, purpose: str, alg: str) -> None:
    """Create a new active key for ISSUER (GB/T 2260 code; 100000 = national).

    In local mode (the development master key) the key is a DEMO key, as every key
    there is; in production (HEALTHCODE_ENV=prod) a real one. Same as `keys rotate`."""
    from healthcode.issuers import service as isv
    from healthcode.issuers.regions import BY_CODE

    if issuer not in BY_CODE:
        raise click.BadParameter(f"unknown issuer {issuer}", param_hint="ISSUER")
    if purpose != "health-code" and alg != "ES256":
        raise click.BadParameter(f"{purpose} keys are ES256", param_hint="--alg")
    svc = service()
    try:
        with svc.db.session() as s:
            row = isv.create_key(
                s,
                issuer=issuer,
                purpose=purpose,
                master=svc.settings.master_key,
                at=svc.now(),
                alg=alg,
                demo=isv.demo_keys(production=svc.settings.is_prod),
                actor="cli",
            )
            kid = row.kid
    except HealthCodeError as exc:
        fail(exc, as_json=False)
    click.echo(kid)


@keys.command("revoke")
@click.argument("kid")
@click.option("--reason", required=True)
@db_option
def keys_revoke(kid: str, reason: str) -> None:
    """Revoke a key: codes it signed are rejected with key-revoked."""
    from healthcode.issuers import service as isv

    svc = service()
    try:
        with svc.db.session() as s:
            isv.revoke_key(s, kid=kid, reason=reason, at=svc.now(), actor="cli")
    except HealthCodeError as exc:
        fail(exc, as_json=False)
    click.echo(f"revoked {kid}")


@cli.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True)
@db_option
def audit_verify(as_json: bool) -> None:
    """Recompute the hash chain and check the signed checkpoints (exit 1 on the first bad entry)."""
    svc = service()
    rep = svc.audit_verify()
    out = {
        "ok": rep.ok,
        "entries": rep.entries,
        "checkpoints": rep.checkpoints,
        "first_bad": rep.first_bad,
        "problem": rep.problem,
    }
    if as_json:
        emit(out)
    elif rep.ok:
        click.echo(
            f"audit log intact: {rep.entries} entries, {rep.checkpoints} signed checkpoint(s)"
        )
    else:
        where = f" at entry {rep.first_bad}" if rep.first_bad is not None else ""
        click.echo(f"audit log BROKEN{where}: {rep.problem}")
    raise SystemExit(0 if rep.ok else 1)


@audit.command("checkpoint")
@click.option("--json", "as_json", is_flag=True)
@db_option
def audit_checkpoint(as_json: bool) -> None:
    """Sign the current head of the chain now (every write already signs one)."""
    svc = service()
    svc.audit_checkpoint()
    rep = svc.audit_verify()
    if as_json:
        emit({"ok": rep.ok, "entries": rep.entries, "checkpoints": rep.checkpoints})
    else:
        click.echo(f"head of {rep.entries} entries signed ({rep.checkpoints} checkpoint(s))")


# --------------------------------------------------------------------------- trips, retention
# The trip card (通信行程卡): `trips import`, `trips build`, `trips card`; and the
# retention sweep. Exit codes as everywhere: 1 refused rows / a refused request,
# 2 unreadable files and bad options. Progress and messages go to stderr.
@cli.group()
def trips() -> None:
    """Trip cards (通信行程卡): location records in, cards of cities with 4 h stays out."""


def _trip_date(value: str, what: str) -> Any:
    from datetime import date

    try:
        day = date.fromisoformat(value.strip())
    except ValueError as exc:
        raise click.BadParameter(f"not a date (YYYY-MM-DD): {value!r}", param_hint=what) from exc
    if not date(1900, 1, 1) <= day <= date(2999, 12, 31):
        raise click.BadParameter(f"a date from 1900 to 2999, not {value!r}", param_hint=what)
    return day


def _trip_files(records: tuple[str, ...], more: tuple[str, ...], what: str) -> list[str]:
    """``--records A B C``: click gives ``A`` to the option and ``B C`` as extra arguments."""
    if more and not records:
        raise click.UsageError(f"unexpected argument(s) {' '.join(more)} (files go after {what})")
    files = [*records, *more]
    for f in files:
        p = Path(f)
        if not p.is_file():
            raise click.BadParameter(f"{f}: no such file", param_hint=what)
    return files


def _trip_fail(exc: HealthCodeError, *, as_json: bool) -> NoReturn:
    """A refused trip-card request: the per-row report on stderr, exit 2 for unreadable
    files, an undetectable format or a file that is not the format given, else 1."""
    from healthcode.trips.errors import (
        UNUSABLE_FILE_CODES,
        FormatMismatch,
        OptionFileRejected,
        UnknownRecordFormat,
    )

    details = exc.details if isinstance(exc.details, dict) else {}
    errors = details.get("errors") or []
    bad_option = isinstance(exc, UnknownRecordFormat | FormatMismatch | OptionFileRejected)
    unreadable = bad_option or any(e.get("code") in UNUSABLE_FILE_CODES for e in errors)
    if as_json:
        emit(exc.to_dict())
    click.echo(f"error [{exc.code}]: {exc.message}", err=True)
    for e in errors[:50]:
        click.echo(
            f"  {e.get('file')}:{e.get('line')}: {e.get('code')}: {e.get('message')}", err=True
        )
    if len(errors) > 50 or details.get("error_count", 0) > len(errors[:50]):
        click.echo(
            f"  … {details.get('error_count', len(errors)) - min(len(errors), 50)} more", err=True
        )
    raise SystemExit(2 if unreadable or exc.status == 400 else 1)


def _plt_phone_option(phone: str | None) -> str | None:
    """``--phone`` (the number of .plt files) normalised; :raises click.BadParameter:."""
    from healthcode.errors import InvalidPhone
    from healthcode.holders.identity import normalise_phone

    if phone is None:
        return None
    try:
        return normalise_phone(phone)
    except InvalidPhone as exc:
        raise click.BadParameter(exc.message, param_hint="--phone") from exc


def _trip_out(path: str, *, as_json: bool = False) -> None:
    """Fail early (exit 2, ``file-unreadable``) when an ``--out`` file cannot be written: no
    such folder, a folder, or no write permission — before any step runs or is stored."""
    import os

    from healthcode.errors import FileUnreadable

    p = Path(path)
    parent = p.resolve().parent
    problem = None
    if not parent.is_dir():
        problem = f"no folder {parent}"
    elif p.is_dir():
        problem = "it is a folder"
    elif not os.access(p if p.exists() else parent, os.W_OK):
        problem = (
            "no permission to write it" if p.exists() else f"no permission to write in {parent}"
        )
    if problem:
        fail(FileUnreadable(f"cannot write {path}: {problem}"), as_json=as_json)


def _trip_write(path: str, write: Callable[[], Any], *, as_json: bool = False) -> Any:
    """Run ``write``; an OS error (a full disk, /dev/full…) is ``file-unreadable``, exit 2."""
    from healthcode.errors import FileUnreadable

    try:
        return write()
    except OSError as exc:
        fail(FileUnreadable(f"cannot write {path}: {exc.strerror or exc}"), as_json=as_json)


def _trip_progress(stage: str, step: int, steps: int) -> None:
    """A build's or an import's steps on stderr (never on stdout, never in --json output)."""
    click.echo(f"[{step}/{steps}] {stage}", err=True)


@trips.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet", "geolife-points", "plt"]), default=None,
    help="Force one format (default: detected per file from its extension and header).",
)  # fmt: skip
@click.option("--cell-sites", type=click.Path(exists=True, dir_okay=False), default=None, help="cell_id,lon,lat (or the Shanghai layout) for records that give cell_id.")  # fmt: skip
@click.option("--phone-map", type=click.Path(exists=True, dir_okay=False), default=None, help="subset,user,phone CSV overriding the GeoLife phone numbers.")  # fmt: skip
@click.option("--phone", default=None, help="The phone number of .plt files, which carry none (default: from their NNN/Trajectory/ folders).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@db_option
def trips_import(
    files: tuple[str, ...], fmt: str | None, cell_sites: str | None, phone_map: str | None,
    phone: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Store location records (CSV, Parquet, GeoLife points.csv.gz or .plt): all or nothing.

    Its two steps (read and check every file, store the records) are shown on stderr."""
    phone = _plt_phone_option(phone)
    svc = service()
    rows = _Progress("storing records")
    try:
        out = svc.import_trip_records(
            files, fmt=fmt, cell_sites=cell_sites, phone_map=phone_map, phone=phone,
            progress=_trip_progress, rows_progress=rows,
        )  # fmt: skip
    except HealthCodeError as exc:
        rows.close()
        _trip_fail(exc, as_json=as_json)
    if as_json:
        emit(out)
        return
    click.echo(
        f"imported {out['stored']} record(s) of {out['phones']} phone(s) from {out['files']} file(s) "
        f"({out['first']} → {out['last']}), import {out['import_id']}"
    )
    extra = []
    if out["duplicates"]:
        extra.append(f"{out['duplicates']} duplicate row(s) dropped")
    if out["already_stored"]:
        extra.append(f"{out['already_stored']} record(s) already stored")
    if out["cards_invalidated"]:
        extra.append(f"{out['cards_invalidated']} stored card(s) to be recomputed")
    if extra:
        click.echo("; ".join(extra), err=True)


@trips.command("build")
@click.option(
    "--as-of", "as_of_text", required=True, help="Query date (Asia/Shanghai), YYYY-MM-DD."
)
@click.option("--records", multiple=True, help="Record files (any import format) instead of the stored records: --records FILE...")  # fmt: skip
@click.argument("more", nargs=-1, metavar="")
@click.option(
    "--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True
)
@click.option("--cell-sites", type=click.Path(exists=True, dir_okay=False), default=None, help="With --records: cell_id,lon,lat (or the Shanghai layout) for records that give cell_id.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None, help="Write the cards as JSON Lines (sorted by phone).")  # fmt: skip
@click.option("--phone", default=None, help="With --records: the phone number of .plt files, which carry none.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@db_option
def trips_build(
    as_of_text: str, records: tuple[str, ...], more: tuple[str, ...], engine: str,
    cell_sites: str | None, out: str | None, phone: str | None, as_json: bool,
) -> None:  # fmt: skip
    """Compute and store the card of every phone for a date (from stored records or files).

    Its six steps go to stderr; --engine spark without pyspark or Java fails before the first."""
    as_of = _trip_date(as_of_text, "--as-of")
    files = _trip_files(records, more, "--records")
    plt_phone = _plt_phone_option(phone)
    if out:
        _trip_out(out, as_json=as_json)
    svc = service()
    try:
        result = svc.build_trip_cards(
            as_of, records=files or None, engine=engine, cell_sites=cell_sites,
            progress=_trip_progress, **({"phone": plt_phone} if plt_phone else {}),
        )  # fmt: skip
    except HealthCodeError as exc:
        _trip_fail(exc, as_json=as_json)
    summary = dict(result.summary)
    if out:
        from healthcode.trips import write_jsonl

        _trip_write(out, lambda: write_jsonl(result.cards, out), as_json=as_json)
        summary["out"] = out
    if as_json:
        emit(summary)
        return
    colours = ", ".join(f"{n} {c}" for c, n in summary["colours"].items()) or "no cards"
    click.echo(
        f"built {summary['cards']} card(s) for {summary['as_of']} (policy {summary['policy']}, "
        f"window {summary['window'][0]} – {summary['window'][1]}) from {summary['records']} "
        f"{'stored ' if summary['source'] == 'records' else ''}record(s) of {summary['phones']} "
        f"phone(s) with {summary['engine']}: {colours}; {summary['starred_cards']} with a starred city"
    )
    if out:
        click.echo(f"wrote {summary['cards']} card(s) to {out}")
    for warning in summary.get("warnings", []):
        why = {
            "no-risk-list": "no risk-area list was imported (healthcode risk-areas import)",
            "risk-list-not-covering": "the imported risk-area list begins after that day",
        }.get(warning, warning)
        click.echo(
            f"warning [{warning}]: the policy of {summary['as_of']} marks cities with listed "
            f"medium/high-risk areas, but {why}: no card shows a star or a risk colour",
            err=True,
        )
    click.echo(
        f"re-evaluated {summary['holders_reevaluated']} holder(s), "
        f"{summary['status_changes']} status change(s)",
        err=True,
    )


@trips.command("shift")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--days", required=True, type=int, help="Whole days to add to every record's time (negative: earlier).")  # fmt: skip
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="Output: .csv, .csv.gz (times in UTC) or .parquet.")  # fmt: skip
@click.option("--phone", "phones", multiple=True, help="Keep only this phone's records (repeatable; GeoLife numbers as mapped).")  # fmt: skip
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "parquet", "geolife-points", "plt"]), default=None,
    help="Force one input format (default: detected per file).",
)  # fmt: skip
@click.option("--cell-sites", type=click.Path(exists=True, dir_okay=False), default=None, help="For input records that give cell_id (the output has their lon/lat).")  # fmt: skip
@click.option("--phone-map", type=click.Path(exists=True, dir_okay=False), default=None, help="subset,user,phone CSV overriding the GeoLife phone numbers.")  # fmt: skip
def trips_shift(
    files: tuple[str, ...], days: int, out: str, phones: tuple[str, ...], fmt: str | None,
    cell_sites: str | None, phone_map: str | None,
) -> None:  # fmt: skip
    """Write the records of FILES moved by --days whole days, as a file `trips import` and
    `--records` read: e.g. GeoLife traces of 2007-2011 moved into the 2022 risk lists to see
    stars. Reads every file first (all or nothing, as import); no database."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from healthcode.errors import InvalidPhone
    from healthcode.holders.identity import normalise_phone
    from healthcode.trips.model import cst_text
    from healthcode.trips.readers import (
        GeolifePhoneMap,
        RecordFormat,
        inspect_records,
        read_cell_sites,
        record_span,
        shift_records,
        write_records,
    )

    if not Path(out).name.lower().endswith((".csv", ".csv.gz", ".parquet", ".pq")):
        raise click.BadParameter("a .csv, .csv.gz or .parquet file", param_hint="--out")
    _trip_out(out)
    try:
        keep = sorted({normalise_phone(p) for p in phones})
    except InvalidPhone as exc:
        raise click.BadParameter(exc.message, param_hint="--phone") from exc
    try:
        sites = read_cell_sites(cell_sites) if cell_sites else None
        pmap = GeolifePhoneMap.from_csv(phone_map) if phone_map else None
        report = inspect_records(
            list(files), fmt=RecordFormat(fmt) if fmt else None, cell_sites=sites, phone_map=pmap
        )
        report.raise_for_errors()
    except HealthCodeError as exc:
        _trip_fail(exc, as_json=False)
    table = report.records
    if keep:
        table = table.filter(pc.is_in(table.column("phone"), pa.array(keep, pa.string())))
    if table.num_rows == 0:
        which = f" of {', '.join(keep)}" if keep else ""
        click.echo(f"error [trip-no-records]: no records{which} in the input; nothing written", err=True)  # fmt: skip
        raise SystemExit(1)
    lo_s, hi_s = (int(v.as_py()) for v in pc.min_max(table.column("epoch_s")).values())
    if not (_EPOCH_1900 <= lo_s + days * 86_400 and hi_s + days * 86_400 < _EPOCH_3000):
        raise click.BadParameter(
            f"the records would leave the years 1900-2999 (they start on "
            f"{cst_text(datetime.fromtimestamp(lo_s, SHANGHAI))[:10]})", param_hint="--days",
        )  # fmt: skip
    shifted = shift_records(table, days)
    span = record_span(shifted)
    assert span is not None  # noqa: S101 - not empty
    first, last = (cst_text(t.astimezone(SHANGHAI)) for t in span)
    n = _trip_write(out, lambda: write_records(shifted, out))
    count = len(pc.unique(shifted.column("phone")))
    click.echo(
        f"wrote {n} record(s) of {count} phone(s) shifted by {days:+d} day(s) "
        f"({first} → {last}) to {out}"
    )
    if report.duplicates:
        click.echo(f"{report.duplicates} duplicate row(s) dropped (written once)", err=True)


#: The instants --as-of allows (1900-01-01 and 3000-01-01, 00:00 UTC), epoch seconds.
_EPOCH_1900, _EPOCH_3000 = -2_208_988_800, 32_503_680_000


#: Colour names of the text card, Chinese first with English (as the page's labels).
_COLOUR_TEXT = {
    "green": "绿色 green",
    "yellow": "黄色 yellow",
    "orange": "橙色 orange",
    "red": "红色 red",
}
#: The place abroad outside every polygon: the card JSON says 境外 (code ZZ).
ABROAD_UNKNOWN_TEXT = "境外（未能确定国家/地区） abroad (country not determined)"


def _format_card(card: dict[str, Any], reason: dict[str, str] | None = None) -> str:
    """The card as text lines, each label Chinese first with English; ``reason``: why an
    empty card is empty (last line)."""
    from healthcode.trips import load_policies
    from healthcode.trips.geo import english_name

    policy = load_policies().by_id(card["policy"])
    meaning = {c.colour.value: c.meaning_zh for c in policy.colours}
    colour = card["colour"]
    lines = [
        f"通信行程卡 trip card {card['phone']}  查询日期 date {card['as_of']}  "
        f"规则 policy {card['policy']}",
        f"统计期间 period {card['window'][0]} – {card['window'][1]}（{card['window_days']} 天 "
        f"days）; 更新于 updated at {card['updated_at'] or '—'}",
        f"颜色 colour: {_COLOUR_TEXT.get(colour, colour)} — {meaning.get(colour, '')}",
    ]
    if card["cities"]:
        lines.append("停留4小时以上的城市 cities with a stay of 4 h or more:")
        for c in card["cities"]:
            star = "*" if c["star"] else " "
            lines.append(
                f"  {c['name']}{star} {c['province']}  {c['first_seen']} → {c['last_seen']}"
            )
        if any(c["star"] for c in card["cities"]):
            day = policy.star_day(date.fromisoformat(card["as_of"])).isoformat()
            lines.append(
                f"  * 该城市在 {day}（查询日期前一天）有中高风险地区，不表示到访过这些地区 / the city "
                f"had a listed medium/high-risk area on {day}; it does not mean the phone "
                "visited that area"
            )
    else:
        lines.append("停留4小时以上的城市 cities with a stay of 4 h or more: 无 none")
    if card["abroad"]:
        lines.append("境外 places outside mainland China:")
        for a in card["abroad"]:
            name = (
                ABROAD_UNKNOWN_TEXT
                if a["code"] == "ZZ"
                else f"{a['name']} {english_name(a['code'], a['name'])}"
            )
            lines.append(f"  {name} ({a['code']})  {a['first_seen']} → {a['last_seen']}")
    else:
        lines.append("境外 places outside mainland China: 无 none")
    if reason:
        lines.append(f"空行程卡 empty card: {reason['message']} [{reason['code']}]")
    return "\n".join(lines)


@trips.command("card")
@click.argument("phone")
@click.argument("more", nargs=-1, metavar="")
@click.option(
    "--as-of", "as_of_text", required=True, help="Query date (Asia/Shanghai), YYYY-MM-DD."
)
@click.option("--records", multiple=True, help="Compute from these record files (not stored): --records FILE...")  # fmt: skip
@click.option("--cell-sites", type=click.Path(exists=True, dir_okay=False), default=None, help="With --records: cell_id,lon,lat (or the Shanghai layout) for records that give cell_id.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="The card JSON (UTF-8, one line).")
@db_option
def trips_card(
    phone: str, more: tuple[str, ...], as_of_text: str, records: tuple[str, ...],
    cell_sites: str | None, as_json: bool,
) -> None:  # fmt: skip
    """A phone's trip card for a date: stored, computed if needed, or from files."""
    from healthcode.errors import InvalidPhone
    from healthcode.holders.identity import normalise_phone

    as_of = _trip_date(as_of_text, "--as-of")
    files = _trip_files(records, more, "--records")
    try:
        normalise_phone(phone)
    except InvalidPhone as exc:
        raise click.BadParameter(exc.message, param_hint="PHONE") from exc
    svc = service()
    try:
        answer = svc.trip_card(phone, as_of=as_of, records=files or None, cell_sites=cell_sites)
    except HealthCodeError as exc:
        _trip_fail(exc, as_json=as_json)
    if as_json:  # the card JSON contract only; why a card is empty goes to stderr
        click.echo(answer.text)
        if answer.reason:
            click.echo(
                f"empty card: {answer.reason['message']} [{answer.reason['code']}]", err=True
            )
    else:
        click.echo(_format_card(answer.card, answer.reason))


@cli.group()
def retention() -> None:
    """Retention: delete what is kept no longer (see healthcode/retention/policy.py)."""


@retention.command("sweep")
@click.option(
    "--at", "at_text", default=None,
    help="Measure from this instant, ISO-8601: 2022-11-25 (00:00 China time), "
    "2022-11-25T08:00:00 (China time) or with an offset (2022-11-25T00:00:00Z); no offset "
    "means Asia/Shanghai (UTC+8), as every command but verify. Default: now.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True)
@db_option
def retention_sweep(at_text: str | None, as_json: bool) -> None:
    """Delete location records, trip cards, SMS codes, sessions and expired e-certificate
    records past their retention."""
    at = parse_time_option(at_text, "--at") if at_text else None
    if at is not None and not _EPOCH_1900 <= at.timestamp() < _EPOCH_3000:
        raise click.BadParameter(
            f"an instant from 1900 to 2999, not {at_text!r}", param_hint="--at"
        )
    out = service().retention_sweep(at=at)
    if as_json:
        emit(out)
        return
    d = out["deleted"]
    click.echo(
        f"deleted {d['location_records']} location record(s), {d['trip_cards']} trip card(s), "
        f"{d['trip_phones']} phone number(s), {d['otp_challenges']} SMS code(s), "
        f"{d['holder_sessions']} holder session(s), {d['trip_sessions']} trip-card session(s), "
        f"{d['e_certificates']} expired e-certificate record(s) (as of {_china_time(out['at'])})"
    )


def _china_time(value: Any) -> str:
    """An instant (aware datetime or ISO text) as China time with its offset, for people."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return when.astimezone(SHANGHAI).isoformat()


# --------------------------------------------------------------------------- demo
def _print_demo(summary: dict[str, Any], *, base: str) -> None:
    click.echo(f"DEMO data loaded — statuses evaluated as of {summary['as_of']} (DEMO)", err=True)
    for h in summary["holders"]:
        reason = "; ".join(h.get("reasons_text", [])) or "—"
        certs = "+".join(h.get("certificates", [])) or "none"
        click.echo(
            f"  {h['colour']:6} {h['name_masked']:8} phone {h['phone']}  {h['holder_id']}  "
            f"e-certificates: {certs}  {reason}",
            err=True,
        )
    click.echo(
        f"  sign in at {base}/holder/sign-in with a DEMO phone; the one-time code is on {base}/admin",
        err=True,
    )


@cli.command()
@click.option(
    "--demo-date", default=None, help="Evaluate demo statuses as of this date (default 2022-11-20)."
)
@click.option("--json", "as_json", is_flag=True)
@db_option
def demo(demo_date: str | None, as_json: bool) -> None:
    """Load DEMO holders whose declared travel includes real listed communities."""
    from healthcode.demo import load_demo

    svc = service()
    try:
        summary = load_demo(svc, demo_date=demo_date, progress=_progress("risk areas"))
    except HealthCodeError as exc:
        fail(exc, as_json=as_json)
    if as_json:
        emit(summary)
    else:
        _print_demo(summary, base=svc.settings.public_url)


def main() -> None:
    """Console-script entry point.

    An unexpected exception is a bug: it is reported as ``internal-error`` (exit 1)
    without a traceback, unless ``HEALTHCODE_DEBUG=1``.
    """
    import os

    try:
        cli(obj={}, prog_name="healthcode", standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:
        if os.environ.get("HEALTHCODE_DEBUG") == "1":
            raise
        if "--json" in sys.argv:
            emit(
                {
                    "ok": False,
                    "status": 500,
                    "code": "internal-error",
                    "message": type(exc).__name__,
                }
            )
        click.echo(
            f"error [internal-error]: {type(exc).__name__}: {str(exc)[:300]} "
            "(a bug; HEALTHCODE_DEBUG=1 shows the traceback)",
            err=True,
        )
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
