"""Edge helpers of ``healthcode verify``: read inputs and trust files, build options, print."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from healthcode.config import Settings
from healthcode.credentials.inputs import ScannedInput, from_bytes
from healthcode.credentials.pipeline import VerifyOptions
from healthcode.credentials.trust import TrustStore
from healthcode.errors import FileUnreadable, InputError

MAX_INPUT_BYTES = 16 * 1024 * 1024


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
            if p.stat().st_size > MAX_INPUT_BYTES:
                data = p.open("rb").read(MAX_INPUT_BYTES + 1)
            else:
                data = p.read_bytes()
        except OSError as exc:
            raise FileUnreadable(f"cannot read {item}: {exc}") from exc
        scanned = from_bytes(data, name=p.name)
        if scanned.picture is False or scanned.card_file is not None:
            return scanned
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
    """The trust store: the database's (default) or only what the options name."""
    from healthcode.issuers.service import FORMAT, trust_store_from_list

    if not explicit:
        store: TrustStore = svc.trust_store()
    else:
        store = TrustStore(
            production=settings.is_prod, clock_skew_seconds=settings.clock_skew_seconds
        )
    if trust_list:
        try:
            raw = Path(trust_list).read_bytes()
        except OSError as exc:
            raise FileUnreadable(f"cannot read {trust_list}: {exc}") from exc
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and doc.get("format") == FORMAT:
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
                store.dcc.setdefault(kid, []).extend(cs)
            store.shc.update(ours.shc)
        else:
            from healthcode.credentials.trustload import load_dcc_trust_list_json

            for kid, cs in load_dcc_trust_list_json(trust_list).items():
                store.dcc.setdefault(kid, []).extend(cs)
    if certs:
        from healthcode.credentials.trustload import load_dcc_certificates

        for kid, cs in load_dcc_certificates(certs).items():
            store.dcc.setdefault(kid, []).extend(cs)
    if issuer_keys:
        from healthcode.credentials.trustload import load_shc_keysets

        load_shc_keysets(list(issuer_keys), trust=store)
    if revocations:
        from healthcode.credentials import trustload

        dcc_lists = [r for r in revocations if not _is_shc_crl(r)]
        shc_lists = [r for r in revocations if _is_shc_crl(r)]
        if dcc_lists:
            store.revoked_dcc.update(trustload.load_dcc_revocation_list(dcc_lists))
        if shc_lists:
            trustload.load_shc_crls(shc_lists, trust=store)
    return store


def read_public_key(path: str) -> bytes:
    """SubjectPublicKeyInfo DER from a PEM or DER public-key file (a trust anchor).

    :raises FileUnreadable: unreadable file; :raises InputError: not a public key.
    """
    from cryptography.hazmat.primitives import serialization

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise FileUnreadable(f"cannot read {path}: {exc}") from exc
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
    except ValueError as exc:
        raise InputError(f"{path}: not a PEM or DER public key") from exc
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _is_shc_crl(path: str) -> bool:
    try:
        doc = json.loads(Path(path).read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and "rids" in doc


def build_options(
    settings: Settings, *, rules_file: str | None, country: str | None, lenient_prefix: bool
) -> VerifyOptions:
    """Verify options; schemas and value sets from ``$HEALTHCODE_SHARED/vectors/dcc-schema`` when present."""
    rules = None
    if rules_file:
        try:
            rules = json.loads(Path(rules_file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise FileUnreadable(f"cannot read {rules_file}: {exc}") from exc
        except ValueError as exc:
            raise InputError(f"{rules_file}: malformed JSON: {exc}") from exc
        if not isinstance(rules, list):
            raise InputError(f"{rules_file}: business rules are a JSON array")
        if not country:
            raise InputError("--rules needs --country (the destination, ISO 3166-1 alpha-2)")
    schema_root = Path(settings.shared, "vectors", "dcc-schema")
    schema_dir = (
        str(schema_root / "eu-dcc-schema") if (schema_root / "eu-dcc-schema").is_dir() else None
    )
    value_sets: dict[str, Any] = {}
    names = None
    vs_dir = schema_root / "eu-dcc-valuesets"
    if vs_dir.is_dir():
        from healthcode.credentials.valuesets import load_value_sets

        vs = load_value_sets(vs_dir)
        names = vs
        value_sets = {k: list(v) for k, v in vs.items()}
    return VerifyOptions(
        rules=rules,
        country=country.upper() if country else None,
        value_sets=value_sets,
        schema_dir=schema_dir,
        lenient_prefix=lenient_prefix,
        value_set_names=names,
    )


STAGE_WORDS = {
    True: "ok",
    False: "FAILED",
    None: "—",
}


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
    return "\n".join(lines)
