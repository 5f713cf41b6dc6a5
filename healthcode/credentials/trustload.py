"""Edge loaders for the international formats: files → trust, schemas, revocation lists.

This is the one module of :mod:`healthcode.credentials` that reads files. Every
function takes explicit paths (or bytes) and returns data for
:class:`~healthcode.credentials.trust.TrustStore` and
:class:`~healthcode.credentials.pipeline.VerifyOptions`; nothing is fetched
over the network.

- EU DCC signer certificates: PEM (one or several), DER, or base64 DER text.
- EU DCC trust lists: UTF-8 JSON (a BOM is allowed), decoded strictly: a JSON array of
  entries, ``{"certificates": [...]}``, or a ``{kid: [base64 DER, ...]}`` map. Entry
  fields: ``kid`` (base64), ``rawData`` / ``certificate`` / ``x5c`` (base64 DER). One
  line before the JSON is allowed only when it is a base64 signature, as the German
  DSC list (``/trustList/DSC/``) ships it: the ECDSA signature over the JSON, then a
  line break, then the JSON. Anything else before the JSON is refused.
- The server's configured foreign trust (``HEALTHCODE_DCC_TRUST``,
  ``HEALTHCODE_SHC_ISSUER_KEYS``): :func:`load_configured_trust` loads each file and
  reports a :class:`TrustSource` for it (what it gave, or why it is unusable).
- SMART Health Card issuer key sets: JWKS files, one per ``iss``; a file is given
  as ``ISS=PATH`` or as ``PATH`` when the set names its issuer (a top-level ``iss``
  member, or the URI SAN of an ``x5c`` leaf). A set that is invalid is recorded
  in ``TrustStore.shc_errors`` and none of its keys is trusted.
- Revocation: DCC lists (JSON array or one entry a line: UVCI or hash, hex or
  base64); SHC CRLs (``{"kid", "method": "rid", "ctr", "rids": [...]}``).
  Revocation loading fails closed: a list that cannot be read completely is
  refused (:class:`TrustFileInvalid`), never taken as "nothing revoked".
- EU DCC business rules: a JSON array in the DCC Gateway rule format, checked
  entry by entry (:func:`load_dcc_rules`).

Every file is read up to a size limit (:data:`MAX_FILE_BYTES`, rules
:data:`MAX_RULES_BYTES`); JSON may start with a UTF-8 byte-order mark; JSON that
cannot be parsed (including nesting too deep for the parser) is a
:class:`TrustFileInvalid` (rules: :class:`~healthcode.credentials.dcc_rules.RulesInvalid`),
never an unexpected exception.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from healthcode.credentials import dcc_rules, shc
from healthcode.credentials.errors import IssuerKeysInvalid, RevocationListInvalid
from healthcode.credentials.hcert import certificate_kid
from healthcode.credentials.trust import TrustStore
from healthcode.errors import ConfigError, FileUnreadable, HealthCodeError

StrPath = str | PathLike[str]

#: Largest trust/key/revocation file read, in bytes.
MAX_FILE_BYTES = 32 * 1024 * 1024
#: Largest business-rule file read, in bytes.
MAX_RULES_BYTES = 8 * 1024 * 1024
#: One DCC revocation entry: a UVCI, or a hash in hex or base64 (no spaces, quotes, commas).
_REVOCATION_ENTRY = re.compile(r"^[A-Za-z0-9:/#+=_.\-]{1,512}$")

_PEM_CERT = re.compile(
    rb"-----BEGIN CERTIFICATE-----\s+(.+?)\s+-----END CERTIFICATE-----", re.DOTALL
)
#: The one line a DCC trust list may carry before its JSON: the list's signature in
#: base64 (standard or URL-safe alphabet, optional padding), as the German DSC list has it.
_SIGNATURE_LINE = re.compile(r"[A-Za-z0-9+/_-]{8,4096}={0,2}")


class TrustFileInvalid(ConfigError):
    """A trust, key-set or revocation file cannot be used (names the file)."""

    code = "trust-file-invalid"
    status = 400


def _read(
    path: StrPath,
    *,
    limit: int | None = None,
    unreadable: type[HealthCodeError] = TrustFileInvalid,
    too_large: type[HealthCodeError] = TrustFileInvalid,
) -> bytes:
    """At most ``limit`` bytes (default :data:`MAX_FILE_BYTES`) of a file; never more is
    read, whatever size the file claims (``/dev/zero``, a growing file)."""
    limit = MAX_FILE_BYTES if limit is None else limit
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise unreadable(f"{p}: cannot read ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise too_large(f"{p}: larger than {limit} bytes")
    return data


def read_file(path: StrPath, *, unreadable: type[HealthCodeError] = TrustFileInvalid) -> bytes:
    """The bytes of a trust, key-set or revocation file (at most :data:`MAX_FILE_BYTES`).

    :param unreadable: the exception for a file that cannot be opened or read.
    :raises unreadable: the file cannot be read.
    :raises TrustFileInvalid: the file is larger than :data:`MAX_FILE_BYTES`.
    """
    return _read(path, unreadable=unreadable)


def strip_bom(data: bytes) -> bytes:
    """``data`` without a leading UTF-8 byte-order mark."""
    return data[len(codecs.BOM_UTF8) :] if data.startswith(codecs.BOM_UTF8) else data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def parse_json(
    data: bytes, *, name: str = "input", error: type[HealthCodeError] = TrustFileInvalid
) -> Any:
    """Parsed JSON of UTF-8 bytes (a leading byte-order mark is allowed).

    :param name: the file's name, for the message.
    :param error: the exception raised (its code is the one reported).
    :raises error: not UTF-8, not JSON, ``NaN``/``Infinity``, a number with too many
        digits, or nesting too deep for the parser (``RecursionError``).
    """
    try:
        text = strip_bom(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{name}: not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise error(
            f"{name}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from exc
    except RecursionError as exc:
        raise error(f"{name}: JSON nested too deeply to read") from exc
    except ValueError as exc:
        raise error(f"{name}: not usable JSON ({str(exc)[:120]})") from exc


# --- EU DCC ---------------------------------------------------------------------
#: The curves of a usable EC signer key: ES256 (P-256) and ES384 (P-384).
_SIGNER_CURVES = ("secp256r1", "secp384r1")
#: The smallest RSA signer key (PS256) accepted, in bits.
MIN_RSA_BITS = 2048


def _b64_strict(text: str) -> bytes:
    """Base64 (standard alphabet, padded) with white space allowed around it only."""
    return base64.b64decode(text.strip(), validate=True)


def _cert_label(cert: x509.Certificate, number: int) -> str:
    try:
        subject = cert.subject.rfc4514_string()
    except ValueError:  # a name the library cannot print
        subject = "?"
    kid = base64.b64encode(certificate_kid(cert)).decode("ascii")
    return f"certificate {number} ({subject[:80]}, kid {kid})"


def check_signer_certificate(cert: x509.Certificate, *, name: str, number: int = 1) -> None:
    """Refuse a DSC whose public key the ``HC1:`` pipeline cannot verify with.

    Usable: EC P-256 or P-384 (ES256 / ES384), RSA of at least :data:`MIN_RSA_BITS` bits
    (PS256), Ed25519 (EdDSA). Anything else — an unknown key algorithm, another curve, a
    short RSA key — is refused when the file is loaded, so no credential naming its kid
    can reach it.

    :param name: the file's name; ``number``: the certificate's place in it (from 1).
    :raises TrustFileInvalid: the key is not usable (the message names file and certificate).
    """
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustFileInvalid(
            f"{name}: {_cert_label(cert, number)}: unsupported or unreadable public key "
            f"({str(exc)[:80]})"
        ) from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name in _SIGNER_CURVES:
            return
        problem = f"EC key on curve {key.curve.name} (P-256 or P-384 only)"
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size >= MIN_RSA_BITS:
            return
        problem = f"RSA key of {key.key_size} bits (at least {MIN_RSA_BITS})"
    elif isinstance(key, ed25519.Ed25519PublicKey):
        return
    else:
        problem = f"{type(key).__name__.removeprefix('_')} key"
    raise TrustFileInvalid(
        f"{name}: {_cert_label(cert, number)}: unusable signer key: {problem}; "
        "EC P-256/P-384, RSA of 2048 bits or more, or Ed25519"
    )


def parse_dcc_certificates(data: bytes, *, name: str = "input") -> list[x509.Certificate]:
    """Certificates from PEM (any number), DER, or base64 DER (one a line) bytes.

    Every certificate's key must be usable (:func:`check_signer_certificate`).

    :raises TrustFileInvalid: nothing in ``data`` is a certificate, a PEM block is not
        complete (``BEGIN`` without its ``END``), or a certificate's key is not usable.
    """
    data = strip_bom(data)
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            blocks = [m.group(0) for m in _PEM_CERT.finditer(data)]
            if len(blocks) != data.count(b"-----BEGIN CERTIFICATE-----"):
                raise TrustFileInvalid(
                    f"{name}: a PEM certificate is not complete (BEGIN CERTIFICATE without "
                    "its END CERTIFICATE line)"
                )
            certs = [x509.load_pem_x509_certificate(block) for block in blocks]
        elif data[:1] == b"\x30":
            certs = [x509.load_der_x509_certificate(data)]
        else:
            lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
            certs = [
                x509.load_der_x509_certificate(base64.b64decode(ln, validate=True)) for ln in lines
            ]
    except (ValueError, binascii.Error) as exc:
        raise TrustFileInvalid(f"{name}: not a PEM, DER or base64 DER certificate ({exc})") from exc
    if not certs:
        raise TrustFileInvalid(f"{name}: no certificate found")
    for number, cert in enumerate(certs, start=1):
        check_signer_certificate(cert, name=name, number=number)
    return certs


def load_dcc_certificates(paths: Iterable[StrPath]) -> dict[bytes, list[x509.Certificate]]:
    """Trusted DCC signer certificates (DSCs) by kid (SHA-256 of the DER, first 8 bytes).

    :raises TrustFileInvalid: a file is missing or holds no certificate.
    """
    out: dict[bytes, list[x509.Certificate]] = {}
    for path in paths:
        for cert in parse_dcc_certificates(_read(path), name=str(path)):
            out.setdefault(certificate_kid(cert), []).append(cert)
    return out


def trust_list_json(data: bytes, *, name: str = "input") -> bytes:
    """The JSON part of a DCC trust list's bytes, without its optional signature line.

    The bytes must be UTF-8 (a leading BOM is allowed), decoded strictly. The JSON
    (``{`` or ``[`` first, after optional white space) may follow one line that holds
    only a base64 signature — the German DSC list's shape, ``<signature>\\n{"certificates":
    [...]}``; the signature is not checked here (pin the list's source instead).

    :returns: UTF-8 JSON bytes (BOM and signature line dropped).
    :raises TrustFileInvalid: not UTF-8, or anything else before the JSON.
    """
    try:
        text = strip_bom(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrustFileInvalid(f"{name}: not UTF-8 text (byte {exc.start})") from exc
    if text.lstrip()[:1] in ("{", "["):
        return text.encode("utf-8")
    first, newline, rest = text.partition("\n")
    if newline and _SIGNATURE_LINE.fullmatch(first.strip()) and rest.lstrip()[:1] in ("{", "["):
        return rest.encode("utf-8")
    raise TrustFileInvalid(
        f"{name}: not a DCC trust list: JSON expected ({{...}} or [...]), optionally after "
        "one line holding only the list's base64 signature"
    )


def parse_dcc_trust_list(
    data: bytes, *, name: str = "input"
) -> dict[bytes, list[x509.Certificate]]:
    """DSCs by kid from trust-list JSON bytes (formats in the module docstring).

    A listed ``kid`` is used as given (so two certificates may share one); when an
    entry has none, the kid is computed from the certificate. Base64 is decoded
    strictly (white space only around it). Entries of another ``certificateType`` (a
    CSCA, an upload certificate) are skipped; every DSC's key must be usable
    (:func:`check_signer_certificate`).

    :raises TrustFileInvalid: not UTF-8 (a BOM is allowed), anything before the JSON but
        one base64 signature line, not JSON, not JSON of a known shape, an entry that is
        not a certificate (not a base64 string or an object holding one), a certificate or
        kid that is not strict base64 (DER), an unusable key, or no DSC at all.
    """
    doc = parse_json(trust_list_json(data, name=name), name=name)
    entries: list[tuple[str | None, Any]] = []
    if isinstance(doc, Mapping) and "certificates" in doc:
        if not isinstance(doc["certificates"], list):
            raise TrustFileInvalid(f"{name}: certificates is not a JSON array")
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
    for number, (kid_text, entry) in enumerate(entries, start=1):
        where = f"{name}: entry {number}"
        raw: Any
        kid_field: Any
        if isinstance(entry, str):
            raw, kid_field = entry, kid_text
        elif isinstance(entry, Mapping):
            kind = entry.get("certificateType", "DSC")
            if not isinstance(kind, str):
                raise TrustFileInvalid(f"{where}: certificateType is not a string")
            if kind not in ("DSC", "dsc"):
                continue
            if "rawData" in entry:
                raw = entry["rawData"]
            elif "certificate" in entry:
                raw = entry["certificate"]
            else:
                x5c = entry.get("x5c")
                raw = x5c[0] if isinstance(x5c, list) and x5c else None
            kid_field = entry.get("kid") or kid_text
        else:
            raise TrustFileInvalid(
                f"{where}: not a certificate entry (an object with rawData, or a base64 string)"
            )
        if not isinstance(raw, str) or not raw.strip():
            raise TrustFileInvalid(
                f"{where}: no certificate (rawData, certificate or x5c: a base64 DER string)"
            )
        if kid_field is not None and not isinstance(kid_field, str):
            raise TrustFileInvalid(f"{where}: kid is not a base64 string")
        try:
            cert = x509.load_der_x509_certificate(_b64_strict(raw))
            kid = _b64_strict(kid_field) if kid_field else certificate_kid(cert)
        except (ValueError, binascii.Error) as exc:
            raise TrustFileInvalid(
                f"{where}: unreadable certificate or kid (strict base64 DER expected: {exc})"
            ) from exc
        check_signer_certificate(cert, name=name, number=number)
        out.setdefault(kid, []).append(cert)
    if not out:
        raise TrustFileInvalid(
            f"{name}: no signer certificate (DSC) in the trust list: a file that gives no "
            "certificate is not a trust list"
        )
    return out


def load_dcc_trust_list_json(path: StrPath) -> dict[bytes, list[x509.Certificate]]:
    """DSCs by kid from a trust-list JSON file (see :func:`parse_dcc_trust_list`).

    :raises TrustFileInvalid: unreadable file or unknown shape.
    """
    return parse_dcc_trust_list(_read(path), name=str(path))


def dcc_trust_file_kind(data: bytes) -> str:
    """``certificates`` (PEM, DER or base64 DER) or ``trust-list`` (JSON, possibly after a
    signature line): how :func:`load_dcc_trust_file` reads a file of these bytes."""
    body = strip_bom(data)
    if b"-----BEGIN CERTIFICATE-----" in body or body[:1] == b"\x30":
        return "certificates"
    rest = body.partition(b"\n")[2]
    if body.lstrip()[:1] in (b"{", b"[") or rest.lstrip()[:1] in (b"{", b"["):
        return "trust-list"
    return "certificates"


def load_dcc_trust_file(path: StrPath) -> tuple[str, dict[bytes, list[x509.Certificate]]]:
    """DSCs by kid from one file that is either certificates or a DCC trust list.

    :returns: the kind read (see :func:`dcc_trust_file_kind`) and the DSCs by kid.
    :raises TrustFileInvalid: the file cannot be read, or is neither kind.
    """
    data = _read(path)
    kind = dcc_trust_file_kind(data)
    return kind, _dcc_trust_from_bytes(data, kind, name=str(path))


def _dcc_trust_from_bytes(
    data: bytes, kind: str, *, name: str
) -> dict[bytes, list[x509.Certificate]]:
    if kind == "trust-list":
        return parse_dcc_trust_list(data, name=name)
    out: dict[bytes, list[x509.Certificate]] = {}
    for cert in parse_dcc_certificates(data, name=name):
        out.setdefault(certificate_kid(cert), []).append(cert)
    return out


@dataclass(frozen=True)
class TrustSource:
    """One configured trust file and what it gave, or why it gave nothing.

    :ivar setting: the setting that names the file (``HEALTHCODE_DCC_TRUST`` …).
    :ivar format: the credentials it is for: ``hc1`` (DSCs) or ``shc`` (a key set).
    :ivar path: the file as configured (for an SHC key set without ``ISS=``, the path).
    :ivar kind: ``certificates``, ``trust-list``, ``key-set``, or ``file`` (not readable).
    :ivar count: DSCs, or keys of the set, it gave (0 when unusable).
    :ivar issuer: the SHC issuer (``iss``) of a key set, when known.
    :ivar code: why it is unusable (``file-unreadable``, ``trust-file-invalid``,
        ``issuer-keys-invalid``), or None.
    :ivar message: the reason in words (names the file), or None.
    """

    setting: str
    format: str
    path: str
    kind: str
    count: int = 0
    issuer: str | None = None
    code: str | None = None
    message: str | None = None

    @property
    def ok(self) -> bool:
        return self.code is None

    def describe(self) -> str:
        """One line for the server log: what was loaded from where, or why not."""
        if not self.ok:
            return f"{self.setting}: {self.message}"
        if self.format == "hc1":
            source = "trust list" if self.kind == "trust-list" else "certificate file"
            what = f"{self.count} signer certificate(s) (DSC) from {source} {self.path}"
        else:
            what = f"key set of {self.issuer} ({self.count} key(s)) from {self.path}"
        return f"{self.setting}: {what}"

    def to_dict(self) -> dict[str, str]:
        """What a verification report may show: no server path, only the file's name."""
        return {
            "format": self.format,
            "setting": self.setting,
            "file": Path(self.path).name,
            "code": self.code or "",
        }


def load_configured_trust(
    dcc_files: Sequence[StrPath],
    shc_specs: Sequence[StrPath],
    *,
    trust: TrustStore,
    dcc_setting: str = "HEALTHCODE_DCC_TRUST",
    shc_setting: str = "HEALTHCODE_SHC_ISSUER_KEYS",
) -> list[TrustSource]:
    """Add a deployment's configured foreign trust to ``trust``, one file at a time.

    Never raises for a bad file: each gives a :class:`TrustSource`, unusable ones with
    their ``code`` and ``message`` (a server refuses to start with any; later, at run
    time, it verifies on without them and says so). An SHC key set that is refused
    (not JSON, an invalid key, no issuer) is unusable too; its issuer, when known, is
    recorded in ``trust.shc_errors`` so its cards fail ``signer`` with
    ``issuer-keys-invalid``.

    :param dcc_files: DSC certificate files or DCC trust lists (:func:`load_dcc_trust_file`).
    :param shc_specs: SHC key sets, ``ISS=PATH`` or ``PATH`` (:func:`load_shc_keysets`).
    :param dcc_setting: the setting named in messages for ``dcc_files``.
    :param shc_setting: the setting named in messages for ``shc_specs``.
    :returns: one source per file, in the order given.
    """
    sources: list[TrustSource] = []
    for path in dcc_files:
        kind = "file"  # until it is read
        try:
            data = _read(path, unreadable=FileUnreadable)
            kind = dcc_trust_file_kind(data)
            certs = _dcc_trust_from_bytes(data, kind, name=str(path))
        except HealthCodeError as exc:
            sources.append(
                TrustSource(dcc_setting, "hc1", str(path), kind, code=exc.code, message=exc.message)
            )
            continue
        if not certs:
            sources.append(
                TrustSource(
                    dcc_setting,
                    "hc1",
                    str(path),
                    kind,
                    code=TrustFileInvalid.code,
                    message=f"{path}: no signer certificate (DSC) in the {kind}",
                )
            )
            continue
        for kid, cs in certs.items():
            trust.dcc.setdefault(kid, []).extend(cs)
        sources.append(
            TrustSource(dcc_setting, "hc1", str(path), kind, sum(map(len, certs.values())))
        )
    for spec in shc_specs:
        iss, file = _split_keyset_spec(spec)
        one = TrustStore()
        try:
            load_shc_keysets([spec], trust=one, strict_json=True, unreadable=FileUnreadable)
        except HealthCodeError as exc:
            if iss:
                trust.shc_errors[iss] = exc.message
            sources.append(
                TrustSource(
                    shc_setting,
                    "shc",
                    str(file),
                    "key-set",
                    issuer=iss,
                    code=exc.code,
                    message=exc.message,
                )
            )
            continue
        if one.shc_errors:
            (key, reason), *_ = one.shc_errors.items()
            known = iss or (key if key != str(file) else None)
            if known:
                trust.shc_errors[known] = reason
            if reason == "issuer-unknown":
                reason = "the key set names no issuer (no top-level iss, no x5c URI); give ISS=PATH"
            sources.append(
                TrustSource(
                    shc_setting,
                    "shc",
                    str(file),
                    "key-set",
                    issuer=known,
                    code=IssuerKeysInvalid.code,
                    message=f"{file}: key set refused: {reason}",
                )
            )
            continue
        for issuer, keys in one.shc.items():
            trust.shc.setdefault(issuer, []).extend(keys)
            sources.append(TrustSource(shc_setting, "shc", str(file), "key-set", len(keys), issuer))
    return sources


def parse_dcc_revocation_list(data: bytes, *, name: str = "input") -> set[str]:
    """Revoked DCC identifiers from one list's bytes, refusing anything it cannot read.

    Two shapes: a JSON array of strings, or text with one entry a line (blank lines and
    lines starting with ``#`` are skipped). An entry is a UVCI, or a hash in hex or
    base64: letters, digits and ``: / # + = _ . -`` only (matched case-insensitively
    by :func:`healthcode.credentials.hcert.revocation_keys`).

    :returns: the entries as written (stripped); ``[]`` gives an empty set.
    :raises TrustFileInvalid: an empty file, not UTF-8, a JSON object (not a DCC list),
        JSON that cannot be parsed, or any entry that is not a string of that alphabet —
        the whole list is refused, so a broken list never means "nothing revoked".
    """
    try:
        text = strip_bom(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TrustFileInvalid(f"{name}: not UTF-8 text (byte {exc.start})") from exc
    stripped = text.strip()
    if not stripped:
        raise TrustFileInvalid(
            f"{name}: empty revocation list (write [] for a list with no entries)"
        )
    if stripped.startswith("{"):
        raise TrustFileInvalid(
            f"{name}: a JSON object is not a DCC revocation list (a JSON array of UVCIs or "
            "hashes, or one a line), nor a SMART Health Card CRL (kid, method, ctr, rids)"
        )
    bad: list[str] = []
    out: set[str] = set()
    if stripped.startswith("["):
        items = parse_json(stripped.encode("utf-8"), name=name)
        if not isinstance(items, list):
            raise TrustFileInvalid(f"{name}: not a JSON array")
        for index, item in enumerate(items):
            if isinstance(item, str) and _REVOCATION_ENTRY.match(item.strip()):
                out.add(item.strip())
            else:
                bad.append(f"entry {index} ({_short(item)})")
    else:
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if _REVOCATION_ENTRY.match(entry):
                out.add(entry)
            else:
                bad.append(f"line {number} ({_short(entry)})")
    if bad:
        raise TrustFileInvalid(
            f"{name}: {len(bad)} entr{'y is' if len(bad) == 1 else 'ies are'} not a UVCI or "
            f"hash: {', '.join(bad[:5])}{' …' if len(bad) > 5 else ''}"
        )
    return out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)[:60]
    return repr(text[:40] + ("…" if len(text) > 40 else ""))


def load_dcc_revocation_list(paths: Iterable[StrPath]) -> set[str]:
    """Revoked DCC identifiers (UVCIs or hashes) from JSON-array or line files.

    See :func:`parse_dcc_revocation_list` for the shapes.

    :raises TrustFileInvalid: an unreadable file, one larger than :data:`MAX_FILE_BYTES`,
        or one that is not a complete, readable list.
    """
    out: set[str] = set()
    for path in paths:
        out |= parse_dcc_revocation_list(_read(path), name=str(path))
    return out


def load_revocation_files(paths: Iterable[StrPath], *, trust: TrustStore) -> TrustStore:
    """Add the revocation lists named on a command line to ``trust``, refusing any that
    cannot be used (fail closed; this is what ``healthcode verify --revocation`` calls).

    A file whose JSON is an object is a SMART Health Card CRL (loaded strictly with
    :func:`load_shc_crls`, so key sets should be loaded first for the ``ctr`` check);
    anything else is a DCC list (:func:`parse_dcc_revocation_list`).

    :returns: ``trust``, with ``revoked_dcc`` and ``revoked_shc`` extended.
    :raises TrustFileInvalid: a file that is unreadable, too large, or not a complete,
        usable list of either kind.
    """
    for path in paths:
        data = _read(path)
        if strip_bom(data).lstrip()[:1] == b"{":
            load_shc_crls([path], trust=trust, strict=True)
        else:
            trust.revoked_dcc |= parse_dcc_revocation_list(data, name=str(path))
    return trust


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
    strict_json: bool = False,
    unreadable: type[HealthCodeError] = TrustFileInvalid,
) -> TrustStore:
    """Add SMART Health Card issuer key sets to ``trust`` (a new store when None).

    :param specs: ``(iss, path)`` pairs, ``"ISS=PATH"`` text, or bare paths of sets that
        name their issuer.
    :param expected_san: URI every ``x5c`` leaf must carry (default: the set's ``iss``).
    :param strict_json: raise for a file that is not JSON instead of recording its set as
        refused (the command line's choice: a file it cannot even parse is a usage error).
    :param unreadable: the exception for a file that cannot be opened or read.
    :returns: the store; refused sets are in ``shc_errors`` (iss, or the path when the
        issuer is unknown → the reason; ``issuer-unknown`` for a bare path whose set names
        no issuer).
    :raises unreadable: a file cannot be read at all.
    :raises TrustFileInvalid: a file is larger than :data:`MAX_FILE_BYTES`; with
        ``strict_json``, a file that is not JSON (a BOM is allowed; nesting too deep for
        the parser counts as not JSON).
    """
    store = trust if trust is not None else TrustStore()
    for spec in specs:
        iss, path = _split_keyset_spec(spec)
        data = strip_bom(_read(path, unreadable=unreadable))
        try:
            parse_json(data, name=str(path))
        except TrustFileInvalid as exc:
            if strict_json:
                raise
            store.shc_errors[iss or str(path)] = f"key set is not JSON ({exc.message})"
            continue
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


def load_shc_crls(
    paths: Iterable[StrPath], *, trust: TrustStore, strict: bool = False
) -> TrustStore:
    """Add SMART Health Card revocation lists (``.well-known/crl/<kid>.json``) to ``trust``.

    Entries go to ``trust.revoked_shc[kid]`` as listed (``rid`` or ``rid.timestamp``).
    A list with a ``kid`` that is otherwise malformed (also: ``ctr`` that is not a JSON
    integer, a ``rid.ts`` timestamp that is not ASCII digits), or whose ``ctr`` differs
    from its key's ``crlVersion``, is recorded as ``revoked_shc[kid] = {shc.CRL_INVALID + reason}``
    so cards of that key are not accepted — or, with ``strict``, refused outright.

    :param strict: raise instead of recording an unusable list (the command line's choice).
    :raises TrustFileInvalid: a file cannot be read, is too large, is not JSON (a BOM is
        allowed), is not an object with a string ``kid``; with ``strict``, any unusable list.
    """
    for path in paths:
        data = strip_bom(_read(path))
        doc = parse_json(data, name=str(path))
        kid = doc.get("kid") if isinstance(doc, dict) else None
        if not isinstance(kid, str) or not kid:
            raise TrustFileInvalid(
                f"{path}: not a SMART Health Card revocation list "
                "(a JSON object with kid, method, ctr and rids)"
            )
        try:
            _check_crl_numbers(doc)
            kid, entries = shc.parse_crl(data, keys=[k for ks in trust.shc.values() for k in ks])
        except RevocationListInvalid as exc:
            if strict:
                raise TrustFileInvalid(
                    f"{path}: unusable SMART Health Card revocation list ({exc.message})"
                ) from exc
            trust.revoked_shc[kid] = {shc.CRL_INVALID + exc.message}
            continue
        trust.revoked_shc.setdefault(kid, set()).update(entries)
    return trust


def _is_json_int(value: Any) -> bool:
    """A JSON integer: not ``true``/``false`` (a Python bool), not ``1.0`` (a float)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _check_crl_numbers(doc: Mapping[str, Any]) -> None:
    """The numbers of an SHC CRL as JSON numbers, before :func:`shc.parse_crl` compares
    them: ``ctr`` a non-negative JSON integer (so ``true`` or ``1.0`` never equals
    ``crlVersion: 1``), each ``rid.ts`` timestamp 1 to 19 ASCII digits (seconds).

    :raises RevocationListInvalid: either is not.
    """
    if not _is_json_int(doc.get("ctr")) or doc["ctr"] < 0:
        raise RevocationListInvalid(
            f"CRL ctr {_short(doc.get('ctr'))} is not a non-negative JSON integer"
        )
    rids = doc.get("rids")
    for entry in rids if isinstance(rids, list) else []:
        if isinstance(entry, str) and "." in entry:
            stamp = entry.partition(".")[2]
            if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 19):
                raise RevocationListInvalid(
                    f"CRL entry {_short(entry)}: the timestamp after the dot is not 1 to 19 "
                    "ASCII digits"
                )


# --- EU DCC business rules ----------------------------------------------------------
def load_dcc_rules(path: StrPath) -> list[dict[str, Any]]:
    """EU DCC business rules from a file, checked entry by entry before any is used.

    The file is a JSON array (a BOM is allowed) of rules in the DCC Gateway format
    (:func:`healthcode.credentials.dcc_rules.validate_rules` lists the checks).

    :returns: the rules, as parsed.
    :raises FileUnreadable: the file cannot be read (exit 2 on the command line).
    :raises RulesInvalid: larger than :data:`MAX_RULES_BYTES`, not UTF-8 JSON (also JSON
        nested too deeply), not an array, or any entry that is not a valid rule —
        ``details["errors"]`` then lists every problem by entry (exit 2).
    """
    data = _read(
        path,
        limit=MAX_RULES_BYTES,
        unreadable=FileUnreadable,
        too_large=dcc_rules.RulesInvalid,
    )
    doc = parse_json(data, name=str(path), error=dcc_rules.RulesInvalid)
    return dcc_rules.check_rules(doc, name=str(path))
