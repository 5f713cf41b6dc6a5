"""The verification report shared by every credential format.

Shape (also the ``--json`` output of ``healthcode verify`` and ``POST /verify``)::

    {"format": "native|hc1|shc|unknown", "verdict": "valid|invalid",
     "colour": "green|yellow|red"|null, "status_code": "00|01|10"|null,
     "stages": {"prefix": true, "signature": false, "expiry": null, ...},
     "reasons": ["signature-invalid"], "warnings": [], "holder": {...}, "type": "health-code",
     "failures": {"signature": "signature-invalid"}, "details": {...}}

``failures`` (present when a hard stage failed) names the reason code of each failed
stage, so a page can say which stage failed and why without pairing lists; a reason
no stage gave (``card-invalid``) is only in ``reasons``. ``details`` (present when
not empty) holds per-format extras, among them the instants the plain words need:
``valid_from`` / ``valid_until`` when the validity window failed, and for ``HC1:``
``signer_valid_from`` / ``signer_valid_until`` of the signer certificate (ISO 8601 UTC).
Whatever the verdict, an ``HC1:`` or ``shc:/`` report whose claims decode carries
``expires_at`` (its ``exp``, when it has one) and an SHC report ``records`` (the
bundle's immunizations and lab results, see
:func:`healthcode.credentials.shc.describe_bundle`). ``trust_unavailable`` lists the
configured trust files of the report's format that could not be used, when the
signer was not found (warning ``foreign-trust-unavailable``, see
:meth:`VerificationReport.note_unavailable_trust`).

A stage is ``True`` (passed), ``False`` (failed) or ``None`` (not reached / not
applicable). The verdict is ``valid`` only when no stage failed — except the
*soft* stages (``schema`` for the international formats), whose failure is a
warning — and ``colour`` is reported only for a valid verdict.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from healthcode.credentials.errors import CredentialError

T = TypeVar("T")


@dataclass
class VerificationReport:
    """Result of :func:`healthcode.credentials.pipeline.verify`.

    :ivar format: ``native`` (our ``HP1:``), ``hc1`` (EU DCC), ``shc`` or ``unknown``.
    :ivar stages: ordered mapping stage name → True/False/None.
    :ivar reasons: stable codes of failed stages, in stage order.
    :ivar warnings: stable codes that do not make the verdict invalid.
    :ivar holder: decoded, display-safe holder data (masked name, birth date …).
    :ivar type: credential type: ``health-code``, ``vaccination``, ``test``, ``recovery``.
    :ivar claimed_colour: the colour the credential claims; read :attr:`colour`, which hides it
        unless the verdict is valid.
    :ivar claims: decoded claims for display (never logged).
    :ivar details: per-format extras (e.g. business-rule results).
    """

    format: str
    stages: dict[str, bool | None]
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    soft_stages: frozenset[str] = frozenset()
    claimed_colour: str | None = None
    claimed_status_code: str | None = None
    holder: dict[str, Any] = field(default_factory=dict)
    type: str | None = None
    claims: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @classmethod
    def start(cls, fmt: str, stage_names: Iterable[str], **kw: Any) -> VerificationReport:
        """A report with every named stage at ``None``."""
        return cls(format=fmt, stages=dict.fromkeys(stage_names), **kw)

    # -- recording -----------------------------------------------------------
    def run(self, stage: str, fn: Callable[[], T]) -> T | None:
        """Run ``fn`` as ``stage``: True on return, False (and its code) on CredentialError.

        Any other exception is a bug in a decoder fed hostile input; it is
        recorded as the stage's generic failure rather than escaping.
        """
        try:
            value = fn()
        except CredentialError as exc:
            self.fail(stage, exc.code)
            return None
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError):
            self.fail(stage, f"{stage.replace('_', '-')}-invalid")
            return None
        self.stages[stage] = True
        return value

    def passed(self, stage: str) -> None:
        self.stages[stage] = True

    def fail(self, stage: str, code: str) -> None:
        """Record ``stage`` as failed with reason ``code`` (a warning for a soft stage)."""
        self.stages[stage] = False
        if stage in self.soft_stages:
            self.warn(code)
            return
        self.failures.setdefault(stage, code)
        if code not in self.reasons:
            self.reasons.append(code)

    def warn(self, code: str) -> None:
        if code not in self.warnings:
            self.warnings.append(code)

    #: Signer failures that configured trust, had it loaded, might have prevented.
    SIGNER_NOT_FOUND = frozenset({"unknown-kid", "unknown-issuer", "issuer-keys-invalid"})

    def note_unavailable_trust(self, unavailable: Iterable[Mapping[str, str]]) -> None:
        """Say that this verifier's own trust was incomplete, when that may be why it failed.

        When configured trust files of this report's format could not be used
        (``TrustStore.unavailable``) and the signer was not found, the report gets the
        warning ``foreign-trust-unavailable`` and ``details["trust_unavailable"]`` (setting,
        file name and code of each file): the credential was not checked against what
        the deployment meant to trust, which is the verifier's problem, not the holder's.
        """
        mine = [dict(u) for u in unavailable if u.get("format") == self.format]
        if mine and self.failures.get("signer") in self.SIGNER_NOT_FOUND:
            self.warn("foreign-trust-unavailable")
            self.details["trust_unavailable"] = mine

    # -- result --------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """True when no hard stage failed and at least one stage passed."""
        hard_fail = any(v is False for k, v in self.stages.items() if k not in self.soft_stages)
        return not hard_fail and not self.reasons and any(v for v in self.stages.values())

    @property
    def colour(self) -> str | None:
        """The colour — only for a valid verdict (a failed code never shows a colour)."""
        return self.claimed_colour if self.ok else None

    @property
    def status_code(self) -> str | None:
        return self.claimed_status_code if self.ok else None

    @property
    def verdict(self) -> str:
        return "valid" if self.ok else "invalid"

    def to_dict(self) -> dict[str, Any]:
        """The public JSON shape (see the module docstring)."""
        ok = self.ok
        return {
            "format": self.format,
            "verdict": "valid" if ok else "invalid",
            "colour": self.claimed_colour if ok else None,
            "status_code": self.claimed_status_code if ok else None,
            "stages": dict(self.stages),
            "reasons": list(self.reasons),
            "warnings": list(self.warnings),
            "holder": json_safe(self.holder),
            "type": self.type,
            **({"failures": self._ordered_failures()} if self.failures else {}),
            **({"details": json_safe(self.details)} if self.details else {}),
        }

    def _ordered_failures(self) -> dict[str, str]:
        return {s: self.failures[s] for s in self.stages if s in self.failures} | self.failures


#: Deepest nesting :func:`json_safe` copies (decoded credentials are bounded well below).
MAX_JSON_DEPTH = 64
#: Largest integer kept a JSON number (bits); larger ones become text (a JSON encoder
#: cannot write an integer of more than 4,300 digits, and no reader needs one).
_MAX_INT_BITS = 64
_JSON_SCALARS = (str, bool, type(None))


def json_safe(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` that strict JSON encoders accept (``allow_nan=False``).

    What decoded credentials may hold and JSON cannot: NaN and infinities (→ ``"NaN"``,
    ``"Infinity"``, ``"-Infinity"``), huge integers (→ their digits as text, or
    ``"<integer of N bits>"``), bytes (→ base64), non-text keys (→ text), tuples and
    sets (→ arrays), anything else (→ its ``str``); nesting beyond
    :data:`MAX_JSON_DEPTH` becomes ``"…"``. Being a copy, a report's ``to_dict()`` never
    shares (so never loops back into) the report's own ``details``.
    """
    kind = type(value)
    if kind in _JSON_SCALARS:
        return value
    if kind is int or isinstance(value, int):
        value = int(value)
        if value.bit_length() <= _MAX_INT_BITS:
            return value
        try:
            return str(value)
        except ValueError:  # beyond Python's int→str digit limit
            return f"<integer of {value.bit_length()} bits>"
    if kind is float or isinstance(value, float):
        value = float(value)
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return str(value)
    if _depth >= MAX_JSON_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        return {
            (k if type(k) is str else str(json_safe(k, _depth + 1))): json_safe(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(v, _depth + 1) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)
