"""What a verifier trusts, per format. Pure data: loading from files/DB happens at the edges.

- ``native``: our issuers' health-code keys by kid (from the signed trust list).
- ``dcc``: EU DCC / GDHCN document signer certificates by kid (several may share one kid).
- ``shc``: SMART Health Card issuers' key sets by ``iss``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from healthcode.credentials.cose import PublicKey


@dataclass(frozen=True)
class TrustedKey:
    """One of our issuers' public keys as published in the trust list.

    :ivar kid: 8-byte key ID (first 8 bytes of SHA-256 of the SubjectPublicKeyInfo DER).
    :ivar issuer: GB/T 2260 region code of the issuer (``100000`` = national platform).
    :ivar status: ``active`` | ``rotated`` (still verifies codes it signed) | ``revoked``.
    :ivar demo: a DEMO key; a production verifier rejects it.
    :ivar not_after: after this instant (UTC) the key verifies nothing, or None.
    """

    kid: bytes
    issuer: str
    alg: str
    public_key: PublicKey
    status: str = "active"
    demo: bool = False
    purpose: str = "health-code"
    not_after: datetime | None = None


@dataclass
class TrustStore:
    """Everything a verifier trusts; built from a trust list, certificates or key sets.

    :ivar production: reject DEMO keys (``demo-key-rejected``).
    :ivar demo_dcc: SHA-256 fingerprints of our DEMO e-certificate DSCs (DER): certificates
        they sign carry the warning ``demo``.
    :ivar demo_shc: kids (RFC 7638 thumbprints) of our DEMO SHC keys: cards they sign carry
        the warning ``demo``.
    :ivar clock_skew_seconds: tolerance for ``iat``/``exp`` of our own codes.
    :ivar unavailable: configured trust files that could not be used when the store was
        built (``{"format": "hc1"|"shc", "setting", "file", "code"}``): a report of that
        format whose signer is not found says so (warning ``foreign-trust-unavailable``).
    """

    native: dict[bytes, TrustedKey] = field(default_factory=dict)
    dcc: dict[bytes, list[Any]] = field(default_factory=dict)  # kid -> [x509.Certificate]
    shc: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # iss -> [JWK dicts]
    shc_errors: dict[str, str] = field(
        default_factory=dict
    )  # iss -> reason its key set was refused
    revoked_dcc: set[str] = field(default_factory=set)
    revoked_shc: dict[str, set[str]] = field(default_factory=dict)
    production: bool = False
    clock_skew_seconds: int = 30
    demo_dcc: set[bytes] = field(default_factory=set)
    demo_shc: set[str] = field(default_factory=set)
    unavailable: list[dict[str, str]] = field(default_factory=list)
