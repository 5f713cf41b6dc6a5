"""Edge helpers of ``healthcode verify``: read inputs and trust files, build options, print.

Option errors (exit 2, one JSON object with ``--json``), by code:

- ``clock-invalid``: ``--at`` is not an ISO 8601 instant (:func:`parse_validation_clock`);
- ``country-invalid``: ``--country`` is not two letters (ISO 3166-1 alpha-2);
- ``country-missing``: ``--rules`` without ``--country``;
- ``rules-missing``: ``--country`` without ``--rules`` (there is no default rule set);
- ``rules-invalid``: the rules file is not a JSON array of valid DCC business rules
  (per-entry report in ``details.errors``);
- ``trust-file-invalid``: a trust list, certificate, key-set or revocation file that
  cannot be used (too large, not JSON, a broken revocation list, a certificate file or
  EU DCC trust list that gives no usable signer certificate …);
- ``trust-list-invalid``: our signed trust list does not check out, or ``--trust-anchor``
  is given without one (with no ``--trust-list``, or with an EU DCC trust list);
- ``file-unreadable``: a named file cannot be read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from healthcode.config import Settings
from healthcode.credentials.inputs import ScannedInput, from_bytes
from healthcode.credentials.pipeline import VerifyOptions
from healthcode.credentials.trust import TrustStore
from healthcode.errors import FileUnreadable, HealthCodeError, TrustListInvalid

MAX_INPUT_BYTES = 16 * 1024 * 1024


class VerifyOptionInvalid(HealthCodeError):
    """An option of ``healthcode verify`` that cannot be used (exit 2)."""

    code = "option-invalid"
    status = 400


class ClockInvalid(VerifyOptionInvalid):
    code = "clock-invalid"


class CountryInvalid(VerifyOptionInvalid):
    code = "country-invalid"


class CountryMissing(VerifyOptionInvalid):
    code = "country-missing"


class RulesMissing(VerifyOptionInvalid):
    code = "rules-missing"


#: ASCII digits only ([0-9], not \d: ``２０２４`` or ``٢٠٢٤`` is not a year).
_CLOCK = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?)?"
    r"(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")
CLOCK_HELP = (
    "ISO 8601: 2021-06-01 (00:00 UTC), 2021-06-01T12:00:00Z, 2021-06-01T20:00:00+08:00; "
    "no offset means UTC"
)


def parse_validation_clock(text: str, *, what: str = "--at") -> datetime:
    """The validation clock of ``verify --at``, as an aware UTC datetime.

    Accepted: ``YYYY-MM-DD`` (00:00 UTC), ``YYYY-MM-DDTHH:MM[:SS[.fraction]]`` (``T``
    or a space; up to 9 fraction digits, cut to microseconds), each optionally followed
    by ``Z`` or an offset ``±HH``, ``±HHMM`` or ``±HH:MM``. **No offset means UTC** —
    as for the DCC test files' ``VALIDATIONCLOCK`` — unlike the other commands' times,
    which default to Asia/Shanghai.

    :param what: the option's name, for the message.
    :raises ClockInvalid: anything else, an impossible date or time, an offset of 24 hours
        or more, or an instant outside years 1–9999 once in UTC.
    """
    match = _CLOCK.fullmatch(text.strip())
    problem = f"{what}: not a validation clock: {text[:60]!r} ({CLOCK_HELP})"
    if not match:
        raise ClockInvalid(problem)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = UTC
        if zone and zone not in ("Z", "z"):
            digits = zone[1:].replace(":", "")
            offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
            tz = timezone(-offset if zone[0] == "-" else offset)
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=tz,
        )
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise ClockInvalid(problem) from exc


def check_rule_options(rules_file: str | None, country: str | None) -> str | None:
    """``--rules`` and ``--country`` go together; the country in capitals (or None).

    :raises CountryMissing: ``--rules`` without ``--country``.
    :raises RulesMissing: ``--country`` without ``--rules``.
    :raises CountryInvalid: ``--country`` is not two ASCII letters (ISO 3166-1 alpha-2).
    """
    if rules_file is not None and country is None:
        raise CountryMissing(
            "--rules needs --country CC: the destination whose Acceptance rules apply "
            "(ISO 3166-1 alpha-2, e.g. CN)"
        )
    if country is not None and rules_file is None:
        raise RulesMissing(
            "--country needs --rules FILE: there is no default rule set, so a destination "
            "alone would check nothing"
        )
    if country is None:
        return None
    if not _COUNTRY.match(country.strip()):
        raise CountryInvalid(
            f"--country: {country[:20]!r} is not an ISO 3166-1 alpha-2 code (two letters, e.g. CN)"
        )
    return country.strip().upper()


def read_inputs(inputs: tuple[str, ...] | list[str]) -> ScannedInput:
    """Each INPUT is an existing file's path, or else the QR text itself.

    :raises FileUnreadable: a file that exists but cannot be read (exit 2).
    """
    texts: list[str] = []
    picture: bool | None = None
    for item in inputs:
        p = Path(item)
        is_file = False
        try:
            is_file = len(item) < 4096 and p.is_file()
        except (OSError, ValueError):
            is_file = False
        if not is_file:
            texts.append(item)
            continue
        try:
            with p.open("rb") as fh:
                data = fh.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise FileUnreadable(f"cannot read {item}: {exc}") from exc
        scanned = from_bytes(data, name=p.name)
        if scanned.picture is False or (scanned.card_file is not None and len(inputs) == 1):
            return scanned
        if scanned.card_file is not None:  # a card file beside other inputs: several-codes
            texts.append(scanned.card_file.decode("utf-8", errors="replace"))
            continue
        if scanned.picture:
            picture = True
        texts.extend(scanned.texts)
    return ScannedInput(texts, picture=picture)


def build_trust(
    svc: Any,
    settings: Settings,
    *,
    at: datetime,
    trust_list: str | None,
    trust_anchors: tuple[str, ...] = (),
    certs: tuple[str, ...] = (),
    issuer_keys: tuple[str, ...] = (),
    revocations: tuple[str, ...] = (),
    explicit: bool = False,
) -> TrustStore:
    """The trust store: the database's (default) or only what the options name.

    Key sets are loaded before revocation lists (a SMART Health Card CRL's ``ctr`` is
    checked against its key). A key set that is refused stays in ``shc_errors`` (see
    :func:`refused_key_sets`); a bare ``FILE`` whose set names no issuer is an error.

    :raises ConfigError: the default trust is asked for and a file of
        ``HEALTHCODE_DCC_TRUST`` / ``HEALTHCODE_SHC_ISSUER_KEYS`` cannot be used (exit 2;
        the server goes on without it, the command does not).
    :raises FileUnreadable: the trust list or trust anchor cannot be read.
    :raises TrustFileInvalid: a file that cannot be used, including any revocation list
        that is not complete and readable (verification never goes on without it).
    :raises TrustListInvalid: our signed trust list does not check out; ``--trust-anchor``
        without ``--trust-list``, or with a trust list that is not our signed one (an
        unsigned EU DCC list would otherwise be read with the anchor silently ignored —
        and carry none of our revocations).
    """
    from healthcode.credentials import trustload
    from healthcode.issuers.service import FORMAT, trust_store_from_list

    if not explicit:
        store: TrustStore = svc.trust_store()
        if store.unavailable:  # a configured file the command would silently go without
            from healthcode.errors import ConfigError

            named = "; ".join(
                f"{u['setting']}: {u['file']} ({u['code']})" for u in store.unavailable
            )
            raise ConfigError(
                f"configured trust that cannot be used: {named} — fix or unset it, or name "
                "the trust with --trust-cert, --trust-list or --issuer-keys"
            )
    else:
        store = TrustStore(
            production=settings.is_prod, clock_skew_seconds=settings.clock_skew_seconds
        )
    if trust_anchors and not trust_list:
        raise TrustListInvalid(
            "--trust-anchor checks a signed healthcode trust list: give it with --trust-list"
        )
    if trust_list:
        raw = trustload.read_file(trust_list, unreadable=FileUnreadable)
        try:
            doc = trustload.parse_json(raw, name=trust_list)
        except trustload.TrustFileInvalid:
            doc = None  # e.g. a DCC list after a signature line: parse_dcc_trust_list says
        ours = isinstance(doc, dict) and doc.get("format") == FORMAT
        if trust_anchors and not ours:
            raise TrustListInvalid(
                f"--trust-list {trust_list}: not a signed healthcode trust list ({FORMAT}); "
                "--trust-anchor applies only to one, so this file would be trusted unchecked. "
                "Give our signed list, or an EU DCC trust list without --trust-anchor"
            )
        if isinstance(doc, dict) and ours:
            anchors = (
                [read_public_key(a) for a in trust_anchors] if trust_anchors else svc.anchor_keys()
            )
            ours = trust_store_from_list(
                doc,
                at=at,
                production=settings.is_prod,
                clock_skew_seconds=settings.clock_skew_seconds,
                anchors=anchors,
            )
            store.native.update(ours.native)
            for kid, cs in ours.dcc.items():
                for number, cert in enumerate(cs, start=1):  # never a key HC1 cannot use
                    trustload.check_signer_certificate(cert, name=trust_list, number=number)
                store.dcc.setdefault(kid, []).extend(cs)
            store.shc.update(ours.shc)
            store.demo_dcc |= ours.demo_dcc  # our DEMO e-certificate keys: the demo warning
            store.demo_shc |= ours.demo_shc
            store.revoked_dcc |= ours.revoked_dcc  # our revoked e-certificates
            for shc_kid, rids in ours.revoked_shc.items():
                store.revoked_shc.setdefault(shc_kid, set()).update(rids)
        else:
            for kid, cs in trustload.parse_dcc_trust_list(raw, name=trust_list).items():
                store.dcc.setdefault(kid, []).extend(cs)
    if certs:
        for kid, cs in trustload.load_dcc_certificates(certs).items():
            store.dcc.setdefault(kid, []).extend(cs)
    for spec in issuer_keys:
        trustload.load_shc_keysets([spec], trust=store, strict_json=True)
        if store.shc_errors.get(str(Path(spec))) == "issuer-unknown":
            raise trustload.TrustFileInvalid(
                f"--issuer-keys {spec}: the key set names no issuer (no top-level iss, no "
                "x5c certificate with a URI); give it as ISS=FILE"
            )
    if revocations:
        trustload.load_revocation_files(revocations, trust=store)
    return store


def refused_key_sets(trust: TrustStore) -> list[dict[str, str]]:
    """SMART Health Card key sets refused when loaded: ``[{"issuer", "reason"}]``.

    Cards of these issuers fail ``signer`` with ``issuer-keys-invalid``; the reason is
    what :func:`healthcode.credentials.shc.validate_keyset` found.
    """
    return [{"issuer": iss, "reason": reason} for iss, reason in sorted(trust.shc_errors.items())]


def read_public_key(path: str) -> bytes:
    """SubjectPublicKeyInfo DER from a PEM or DER public-key file (a trust anchor).

    :raises FileUnreadable: unreadable file.
    :raises TrustFileInvalid: larger than ``trustload.MAX_FILE_BYTES``, or not a public key.
    """
    from cryptography.hazmat.primitives import serialization

    from healthcode.credentials.trustload import TrustFileInvalid, read_file

    data = read_file(path, unreadable=FileUnreadable)
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
    except (ValueError, TypeError) as exc:
        raise TrustFileInvalid(f"{path}: not a PEM or DER public key") from exc
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def build_options(
    settings: Settings, *, rules_file: str | None, country: str | None, lenient_prefix: bool
) -> VerifyOptions:
    """Verify options; schemas and value sets from ``$HEALTHCODE_SHARED/vectors/dcc-schema`` when present.

    :raises CountryMissing, RulesMissing, CountryInvalid: see :func:`check_rule_options`.
    :raises FileUnreadable: the rules file cannot be read.
    :raises RulesInvalid: the rules file is not a JSON array of valid rules
        (:func:`healthcode.credentials.trustload.load_dcc_rules`).
    """
    country = check_rule_options(rules_file, country)
    rules = None
    if rules_file is not None:
        from healthcode.credentials.trustload import load_dcc_rules

        rules = load_dcc_rules(rules_file)
    from dataclasses import replace

    from healthcode.service import default_verify_options

    # The same schemas and value sets as the server's verifier page (one place builds them).
    return replace(
        default_verify_options(settings.shared),
        rules=rules,
        country=country,
        lenient_prefix=lenient_prefix,
    )


STAGE_WORDS = {
    True: "ok",
    False: "FAILED",
    None: "—",
}
#: The instants a report's ``details`` may carry, with the words the text output uses.
DATE_WORDS = (
    ("valid_from", "valid from"),
    ("valid_until", "validity ended"),
    ("expires_at", "valid until"),
    ("signer_valid_from", "signer certificate valid from"),
    ("signer_valid_until", "signer certificate expired"),
)


def _utc(iso: str) -> str:
    """``2021-06-01 18:00:00 UTC`` for an ISO 8601 instant (as given when it is not one)."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if moment.tzinfo is None:
        return str(iso)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def report_dates(details: dict[str, Any]) -> list[str]:
    """The instants of a report's ``details`` in words (``validity ended 2021-06-01 18:00:00
    UTC``), in a fixed order; ``expires_at`` only when ``valid_until`` (the same instant,
    given because it passed) is absent."""
    out = []
    for key, words in DATE_WORDS:
        value = details.get(key)
        if not isinstance(value, str) or (key == "expires_at" and details.get("valid_until")):
            continue
        out.append(f"{words} {_utc(value)}")
    return out


def format_report(out: dict[str, Any]) -> str:
    """Human-readable report (the JSON is the contract; this is for people)."""
    lines = [
        f"verdict: {out['verdict'].upper()}   format: {out['format']}   type: {out.get('type') or '—'}",
    ]
    if out.get("colour"):
        lines.append(f"colour:  {out['colour']} ({out['status_code']})")
    if out.get("holder"):
        lines.append("holder:  " + ", ".join(f"{k}={v}" for k, v in out["holder"].items()))
    lines.append("stages:  " + "  ".join(f"{k}:{STAGE_WORDS[v]}" for k, v in out["stages"].items()))
    if out["reasons"]:
        lines.append("reasons: " + ", ".join(out["reasons"]))
    if out["warnings"]:
        lines.append("warnings: " + ", ".join(out["warnings"]))
    details = out.get("details") or {}
    dates = report_dates(details)
    if dates:
        lines.append("dates:   " + "; ".join(dates))
    rules = details.get("rules") or []
    if rules:
        failed = [r for r in rules if r.get("result") != "passed"]
        lines.append(
            f"rules:   {len(rules) - len(failed)} of {len(rules)} applicable rule(s) passed"
        )
        for r in failed:
            words = "FAILED" if r.get("result") == "failed" else "NOT EVALUATED"
            line = f"  {words} {r.get('identifier')} v{r.get('version')}: {r.get('description') or '(no description)'}"
            if r.get("error"):
                line += f" [{r['error']}]"
            lines.append(line)
    for refused in details.get("refused_key_sets") or []:
        lines.append(f"key set refused: {refused['issuer']}: {refused['reason']}")
    for missing in details.get("trust_unavailable") or []:
        lines.append(
            f"trust not loaded: {missing.get('setting')}: {missing.get('file')} "
            f"({missing.get('code')})"
        )
    return "\n".join(lines)


def server_trust_lines(settings: Settings, sources: list[Any], options: VerifyOptions) -> list[str]:
    """What ``healthcode serve`` says at start about its verifier's configured trust and rules.

    :param sources: the :class:`~healthcode.credentials.trustload.TrustSource` list of
        :meth:`healthcode.service.HealthCode.check_server_config`.
    :param options: the server's verify options (its business rules).
    """
    lines = [f"foreign trust: {source.describe()}" for source in sources]
    if not sources:
        lines.append(
            "foreign trust: none (HEALTHCODE_DCC_TRUST and HEALTHCODE_SHC_ISSUER_KEYS unset): "
            "the verifier trusts only this deployment's own issuers"
        )
    if options.rules is not None:
        lines.append(
            f"business rules: {len(options.rules)} rule(s) from {settings.dcc_rules} "
            f"(HEALTHCODE_DCC_RULES), destination {options.country}"
        )
    return lines
