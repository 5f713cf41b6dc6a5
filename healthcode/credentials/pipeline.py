"""One staged verification pipeline for every format a checkpoint may scan.

``verify(inputs, trust=..., at=...)`` picks the format by prefix and runs its
stages, returning a :class:`VerificationReport`. It never raises for bad input:
garbage yields ``format="unknown"``, ``prefix: false``.

Formats (module → prefix → stage keys):

- :mod:`.native` — ``HP1:`` — picture, prefix, base45, compression, cose, signer,
  signature, cbor, expiry, claims (``docs/token-format.md``)
- :mod:`.hcert` — ``HC1:`` (EU DCC / WHO GDHCN) — picture, prefix, base45, compression,
  cose, signer, signature, cbor, expiry, schema (soft), key_usage, revocation, rules
- :mod:`.shc` — ``shc:/`` (SMART Health Cards) — picture, prefix, numeric, jws, signer,
  signature, compression, payload, expiry, fhir, revocation
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from healthcode.credentials.report import VerificationReport
from healthcode.credentials.trust import TrustStore

NATIVE_PREFIX = "HP1:"
HC1_PREFIX = "HC1:"
SHC_PREFIX = "shc:/"

#: Largest QR text accepted, in characters (a version-40 QR holds 4,296 alphanumerics).
MAX_TEXT_CHARS = 16_384


@dataclass(frozen=True)
class VerifyOptions:
    """Optional inputs of the international formats.

    :ivar rules: EU DCC business rules (list of rule dicts) for the ``rules`` stage.
    :ivar country: destination country (ISO 3166-1 alpha-2) the rules are chosen for.
    :ivar value_sets: valueSetId → list of codes, for CertLogic ``external.valueSets``.
    :ivar schema_dir: folder holding the DCC JSON schemas (``versions/<v>/…``), or None.
    :ivar lenient_prefix: accept an ``HC1:`` payload with no prefix (off by default).
    :ivar dcc_schemas: DCC JSON schemas already loaded (version → schema), preferred over
        ``schema_dir`` (see :func:`healthcode.credentials.trustload.load_dcc_schemas`).
    :ivar value_set_names: valueSetId → code → display name, to name codes in the report
        (see :mod:`healthcode.credentials.valuesets`).
    """

    rules: list[dict[str, Any]] | None = None
    country: str | None = None
    value_sets: dict[str, Any] = field(default_factory=dict)
    schema_dir: str | None = None
    lenient_prefix: bool = False
    dcc_schemas: Mapping[str, Mapping[str, Any]] | None = None
    value_set_names: Mapping[str, Mapping[str, str]] | None = None


_NO_OPTIONS = VerifyOptions()


def clean_scanned_text(text: str) -> str:
    """Drop only a trailing CR/LF added by a scanner; never trim or URL-decode inside."""
    return text.rstrip("\r\n")


def detect_format(text: str) -> str:
    """``native`` | ``hc1`` | ``shc`` | ``unknown`` by prefix (``shc:/`` case-insensitively)."""
    if text.startswith(NATIVE_PREFIX):
        return "native"
    if text.startswith(HC1_PREFIX):
        return "hc1"
    if text[:5].lower() == SHC_PREFIX or (text.count(".") == 2 and text[:2] == "ey"):
        return "shc"
    return "unknown"


def verify(
    inputs: Sequence[str] | str,
    *,
    trust: TrustStore,
    at: datetime,
    options: VerifyOptions | None = None,
    picture: bool | None = None,
) -> VerificationReport:
    """Verify scanned text (one string, or the chunks of one multi-part SMART Health Card).

    :param inputs: QR text(s), already read from an image if there was one.
    :param trust: what the verifier trusts (see :class:`TrustStore`).
    :param at: the validation clock, aware UTC.
    :param picture: result of the image-decoding stage (None when the input was text).
    :returns: the report; never raises for bad input.
    """
    options = options or _NO_OPTIONS
    texts = [inputs] if isinstance(inputs, str) else list(inputs)
    texts = [t.rstrip("\r\n") for t in texts]  # clean_scanned_text, inlined: the hot path
    first = texts[0] if texts else ""
    fmt = detect_format(first)
    if texts and max(map(len, texts)) > MAX_TEXT_CHARS:
        report = VerificationReport.start("unknown", ["picture", "prefix"])
        report.stages["picture"] = picture
        report.fail("prefix", "payload-too-large")
        return report
    if fmt == "native":
        import healthcode.credentials.native as native  # no fromlist: cheaper once imported

        report = native.verify_into(first, trust=trust, at=at)
    elif fmt == "hc1" or (fmt == "unknown" and options.lenient_prefix and len(texts) == 1):
        import healthcode.credentials.hcert as hcert  # no fromlist: cheaper once imported

        report = hcert.verify_into(first, trust=trust, at=at, options=options)
    elif fmt == "shc":
        import healthcode.credentials.shc as shc  # no fromlist: cheaper once imported

        report = shc.verify_into(texts, trust=trust, at=at, options=options)
    else:
        report = VerificationReport.start("unknown", ["picture", "prefix"])
        report.fail("prefix", "unknown-format")
    if "picture" in report.stages:
        report.stages["picture"] = picture
    return report
