"""Edge loaders for the international formats: files → trust, schemas, revocation lists.

This is the one module of :mod:`healthcode.credentials` that reads files. Every
function takes explicit paths (or bytes) and returns data for
:class:`~healthcode.credentials.trust.TrustStore` and
:class:`~healthcode.credentials.pipeline.VerifyOptions`; nothing is fetched
over the network.

- EU DCC signer certificates: PEM (one or several), DER, or base64 DER text.
- EU DCC trust lists: a JSON array of entries, ``{"certificates": [...]}`` (also
  after a leading signature line, as the German DSC list ships it), or a
  ``{kid: [base64 DER, ...]}`` map. Entry fields: ``kid`` (base64), ``rawData``
  / ``certificate`` / ``x5c`` (base64 DER).
- SMART Health Card issuer key sets: JWKS files, one per ``iss``; a file is given
  as ``ISS=PATH`` or as ``PATH`` when the set names its issuer (a top-level ``iss``
  member, or the URI SAN of an ``x5c`` leaf). A set that is invalid is recorded
  in ``TrustStore.shc_errors`` and none of its keys is trusted.
- Revocation: DCC lists (JSON array or one entry a line: UVCI or hash, hex or
  base64); SHC CRLs (``{"kid", "method": "rid", "ctr", "rids": [...]}``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from cryptography import x509

from healthcode.credentials import shc
from healthcode.credentials.errors import IssuerKeysInvalid, RevocationListInvalid
from healthcode.credentials.hcert import certificate_kid
from healthcode.credentials.trust import TrustStore
from healthcode.errors import ConfigError

StrPath = str | PathLike[str]

#: Largest trust/key/revocation file read, in bytes.
MAX_FILE_BYTES = 32 * 1024 * 1024

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s+(.+?)\s+-----END CERTIFICATE-----", re.DOTALL
)


class TrustFileInvalid(ConfigError):
    """A trust, key-set or revocation file cannot be used (names the file)."""

    code = "trust-file-invalid"
    status = 400


def _read(path: StrPath) -> bytes:
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise TrustFileInvalid(f"{p}: larger than {MAX_FILE_BYTES} bytes")
        return p.read_bytes()
    except OSError as exc:
        raise TrustFileInvalid(f"{p}: cannot read ({exc.strerror})") from exc


# --- EU DCC ---------------------------------------------------------------------
def parse_dcc_certificates(data: bytes, *, name: str = "input") -> list[x509.Certificate]:
    """Certificates from PEM (any number), DER, or base64 DER (one a line) bytes.

    :raises TrustFileInvalid: nothing in ``data`` is a certificate.
    """
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return [x509.load_pem_x509_certificate(m.group(0)) for m in _PEM_CERT.finditer(data)]
        if data[:1] == b"\x30":
            return [x509.load_der_x509_certificate(data)]
        lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
        certs = [
            x509.load_der_x509_certificate(base64.b64decode(ln, validate=True)) for ln in lines
        ]
        if certs:
            return certs
    except (ValueError, binascii.Error) as exc:
        raise TrustFileInvalid(f"{name}: not a PEM, DER or base64 DER certificate ({exc})") from exc
    raise TrustFileInvalid(f"{name}: no certificate found")


def load_dcc_certificates(paths: Iterable[StrPath]) -> dict[bytes, list[x509.Certificate]]:
    """Trusted DCC signer certificates (DSCs) by kid (SHA-256 of the DER, first 8 bytes).

    :raises TrustFileInvalid: a file is missing or holds no certificate.
    """
    out: dict[bytes, list[x509.Certificate]] = {}
    for path in paths:
        for cert in parse_dcc_certificates(_read(path), name=str(path)):
            out.setdefault(certificate_kid(cert), []).append(cert)
    return out


def parse_dcc_trust_list(
    data: bytes, *, name: str = "input"
) -> dict[bytes, list[x509.Certificate]]:
    """DSCs by kid from trust-list JSON bytes (formats in the module docstring).

    A listed ``kid`` is used as given (so two certificates may share one); when an
    entry has none, the kid is computed from the certificate.

    :raises TrustFileInvalid: not JSON of a known shape.
    """
    text = data.decode("utf-8-sig", errors="replace")
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise TrustFileInvalid(f"{name}: no JSON found")
    try:
        doc = json.loads(text[start:])
    except json.JSONDecodeError as exc:
        raise TrustFileInvalid(f"{name}: not JSON ({exc.msg})") from exc
    entries: list[tuple[str | None, Any]] = []
    if isinstance(doc, Mapping) and isinstance(doc.get("certificates"), list):
        entries = [(None, e) for e in doc["certificates"]]
    elif isinstance(doc, list):
        entries = [(None, e) for e in doc]
    elif isinstance(doc, Mapping):
        for kid, value in doc.items():
            for item in value if isinstance(value, list) else [value]:
                entries.append((kid, item))
    else:
        raise TrustFileInvalid(f"{name}: unknown trust-list shape")
    out: dict[bytes, list[x509.Certificate]] = {}
    for kid_text, entry in entries:
        raw: Any
        kid_field: Any
        if isinstance(entry, str):
            raw, kid_field = entry, kid_text
        elif isinstance(entry, Mapping):
            x5c = entry.get("x5c")
            raw = (
                entry.get("rawData")
                or entry.get("certificate")
                or (x5c[0] if isinstance(x5c, list) and x5c else None)
            )
            kid_field = entry.get("kid") or kid_text
            if entry.get("certificateType", "DSC") not in ("DSC", "dsc"):
                continue
        else:
            continue
        if not isinstance(raw, str):
            continue
        try:
            cert = x509.load_der_x509_certificate(base64.b64decode(raw))
            kid = (
                base64.b64decode(kid_field) if isinstance(kid_field, str) else certificate_kid(cert)
            )
        except (ValueError, binascii.Error) as exc:
            raise TrustFileInvalid(
                f"{name}: entry with unreadable certificate or kid ({exc})"
            ) from exc
        out.setdefault(kid, []).append(cert)
    return out


def load_dcc_trust_list_json(path: StrPath) -> dict[bytes, list[x509.Certificate]]:
    """DSCs by kid from a trust-list JSON file (see :func:`parse_dcc_trust_list`).

    :raises TrustFileInvalid: unreadable file or unknown shape.
    """
    return parse_dcc_trust_list(_read(path), name=str(path))


def load_dcc_revocation_list(paths: Iterable[StrPath]) -> set[str]:
    """Revoked DCC identifiers (UVCIs or hashes) from JSON-array or line files.

    :raises TrustFileInvalid: unreadable file.
    """
    out: set[str] = set()
    for path in paths:
        data = _read(path).decode("utf-8-sig", errors="replace")
        stripped = data.strip()
        if stripped.startswith("["):
            try:
                items = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise TrustFileInvalid(f"{path}: not a JSON array ({exc.msg})") from exc
            out.update(str(i).strip() for i in items if str(i).strip())
        else:
            out.update(
                ln.strip() for ln in data.splitlines() if ln.strip() and not ln.startswith("#")
            )
    return out


def default_dcc_schema_dir(shared: StrPath) -> Path:
    """``<shared>/vectors/dcc-schema`` (the value of ``HEALTHCODE_SHARED`` is passed in)."""
    return Path(shared, "vectors", "dcc-schema")


@functools.lru_cache(maxsize=8)
def _load_schemas_cached(root: str) -> dict[str, dict[str, Any]]:
    base = Path(root)
    versions = base / "eu-dcc-schema" / "versions"
    if not versions.is_dir():
        versions = base / "versions"
    if not versions.is_dir():
        raise TrustFileInvalid(f"{root}: no eu-dcc-schema/versions/ folder")
    out: dict[str, dict[str, Any]] = {}
    for folder in sorted(versions.iterdir()):
        files = sorted(folder.glob("*combined-schema.json")) if folder.is_dir() else []
        if files:
            out[folder.name] = json.loads(_read(files[0]))
    if not out:
        raise TrustFileInvalid(f"{versions}: no combined schemas")
    return out


def load_dcc_schemas(schema_dir: StrPath) -> dict[str, dict[str, Any]]:
    """DCC JSON schemas by version (``versions/<v>/D?C.combined-schema.json``), cached.

    :param schema_dir: the ``dcc-schema`` folder (or its ``eu-dcc-schema`` sub-folder).
    :raises TrustFileInvalid: no schema found.
    """
    return _load_schemas_cached(str(Path(schema_dir).resolve()))


# --- SMART Health Cards -----------------------------------------------------------
def _split_keyset_spec(spec: StrPath | tuple[str, StrPath]) -> tuple[str | None, Path]:
    if isinstance(spec, tuple):
        return spec[0], Path(spec[1])
    text = str(spec)
    if not Path(text).exists() and "=" in text:
        iss, _, path = text.rpartition("=")
        return iss, Path(path)
    return None, Path(text)


def load_shc_keysets(
    specs: Iterable[StrPath | tuple[str, StrPath]],
    *,
    trust: TrustStore | None = None,
    expected_san: str | None = None,
) -> TrustStore:
    """Add SMART Health Card issuer key sets to ``trust`` (a new store when None).

    :param specs: ``(iss, path)`` pairs, ``"ISS=PATH"`` text, or bare paths of sets that
        name their issuer.
    :param expected_san: URI every ``x5c`` leaf must carry (default: the set's ``iss``).
    :returns: the store; refused sets are in ``shc_errors`` (iss or path → reason code).
    :raises TrustFileInvalid: a file cannot be read at all.
    """
    store = trust if trust is not None else TrustStore()
    for spec in specs:
        iss, path = _split_keyset_spec(spec)
        data = _read(path)
        try:
            keyset = shc.parse_keyset(data)
            iss = iss or shc.keyset_issuer(keyset)
            if not iss:
                store.shc_errors[str(path)] = "issuer-unknown"
                continue
            keys = shc.validate_keyset(keyset, iss=iss, expected_san=expected_san)
        except IssuerKeysInvalid as exc:
            store.shc_errors[iss or str(path)] = exc.message
            continue
        store.shc.setdefault(iss, []).extend(keys)
    return store


def load_shc_crls(paths: Iterable[StrPath], *, trust: TrustStore) -> TrustStore:
    """Add SMART Health Card revocation lists (``.well-known/crl/<kid>.json``) to ``trust``.

    Entries go to ``trust.revoked_shc[kid]`` as listed (``rid`` or ``rid.timestamp``);
    a list that is malformed or whose ``ctr`` differs from its key's ``crlVersion``
    is recorded as ``revoked_shc[kid] = {shc.CRL_INVALID + reason}`` so cards of that
    key are not accepted.

    :raises TrustFileInvalid: a file cannot be read.
    """
    for path in paths:
        data = _read(path)
        try:
            kid, entries = shc.parse_crl(data, keys=[k for ks in trust.shc.values() for k in ks])
        except RevocationListInvalid as exc:
            kid = shc.crl_kid(data) or Path(path).stem
            trust.revoked_shc[kid] = {shc.CRL_INVALID + exc.message}
            continue
        trust.revoked_shc.setdefault(kid, set()).update(entries)
    return trust
