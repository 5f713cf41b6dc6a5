"""Revocation of our e-certificates (电子证照): identifiers and published lists — pure.

**SMART Health Cards** (specification, "Revocation"): each card carries
``vc.rid`` = base64url (no padding) of the first 64 bits of HMAC-SHA-256 over our
certificate ID, keyed with a 256-bit secret concatenated with the signing key's
kid (:func:`shc_rid`; the secret is derived from the master key, purpose
:data:`RID_SECRET_PURPOSE`). Each SHC key has a card revocation list
(:func:`shc_crl`), served at ``{iss}/.well-known/crl/{kid}.json``::

    {"kid": "<kid>", "method": "rid", "ctr": <1 + revocations under the key>, "rids": ["<rid>", …]}

and the key set announces ``crlVersion`` = ``ctr`` on that key.

**EU DCC**: the revoked UVCIs are published as the EU DCC revocation scheme's
``UCI`` hash type — the first 128 bits of SHA-256 over the UVCI exactly as in the
certificate's ``ci`` (UTF-8, check character included), in base64
(:func:`uci_hash`) — in the signed trust list, with the SHC lists::

    "revocations": {
      "dcc": {"hash_type": "UCI", "hashes": ["<base64 of 16 bytes>", …]},
      "shc": [<CRL as above>, …]          # one per listed SHC key
    }

Revoked DCCs stay listed until they expire (an expired one is refused anyway).
A verifier puts them in :class:`~healthcode.credentials.trust.TrustStore`
(:func:`apply_to_store`): ``revoked_dcc`` (matched by the ``HC1:`` ``revocation``
stage) and ``revoked_shc[kid]`` (the ``shc:/`` ``revocation`` stage; a key with a
list, even an empty one, gets the stage checked).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

from healthcode.credentials.trust import TrustStore

#: :func:`healthcode.protect.derive_key` purpose of the SHC ``rid`` secret.
RID_SECRET_PURPOSE = "shc-rid"  # noqa: S105 - a key-derivation label, not a secret
#: The hash type named in the published DCC list (EU DCC revocation: SHA-256 of the UVCI).
DCC_HASH_TYPE = "UCI"


def shc_rid(secret: bytes, kid: str, certificate_id: str) -> str:
    """The ``rid`` of an SHC: ``base64url(HMAC-SHA-256(secret ‖ kid, certificate_id)[:8])``.

    :param secret: 32 random bytes (ours: derived from the master key).
    :param kid: the signing key's kid (RFC 7638 thumbprint).
    :param certificate_id: the issuer's identifier of the card (our certificate ID).
    :returns: 11 characters of the base64url alphabet (64 bits, no padding).
    """
    mac = hmac.new(secret + kid.encode("ascii"), certificate_id.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:8]).decode("ascii").rstrip("=")


def uci_hash(uvci: str) -> str:
    """The EU DCC ``UCI`` revocation hash: first 16 bytes of SHA-256 over the UVCI (UTF-8),
    base64 (24 characters)."""
    return base64.b64encode(hashlib.sha256(uvci.encode("utf-8")).digest()[:16]).decode("ascii")


def shc_crl(kid: str, ctr: int, rids: Iterable[str]) -> dict[str, Any]:
    """A card revocation list: ``{"kid", "method": "rid", "ctr", "rids"}`` (``ctr`` ≥ 1)."""
    return {"kid": kid, "method": "rid", "ctr": ctr, "rids": sorted(rids)}


def trust_list_section(
    dcc_hashes: Iterable[str], crls: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``revocations`` member of the trust-list payload (shape in the module docstring)."""
    return {
        "dcc": {"hash_type": DCC_HASH_TYPE, "hashes": sorted(dcc_hashes)},
        "shc": [dict(c) for c in crls],
    }


def apply_to_store(
    section: object, store: TrustStore, *, shc_keys: Iterable[Mapping[str, Any]] = ()
) -> None:
    """Add a ``revocations`` section (from a trust list that verified) to ``store``.

    :param shc_keys: the JWKs trusted so far; a CRL whose ``ctr`` differs from its key's
        ``crlVersion`` is refused.
    :raises ValueError: a malformed section (unknown hash type, a hash that is not 16
        bytes of base64, an invalid CRL) — the whole trust list should then be refused.
    """
    from healthcode.credentials import shc
    from healthcode.credentials.errors import CredentialError

    if section is None:
        return
    if not isinstance(section, dict):
        raise ValueError("revocations is not an object")
    dcc = section.get("dcc") or {"hash_type": DCC_HASH_TYPE, "hashes": []}
    if not isinstance(dcc, dict) or dcc.get("hash_type") != DCC_HASH_TYPE:
        raise ValueError(f"DCC revocations must be of hash type {DCC_HASH_TYPE}")
    hashes = dcc.get("hashes")
    if not isinstance(hashes, list):
        raise ValueError("DCC revocations have no hashes array")
    for h in hashes:
        if not isinstance(h, str) or len(base64.b64decode(h, validate=True)) != 16:
            raise ValueError(f"DCC revocation hash {str(h)[:40]!r} is not 16 bytes of base64")
    crls = section.get("shc") or []
    if not isinstance(crls, list):
        raise ValueError("SHC revocations are not an array")
    keys = list(shc_keys)
    parsed: dict[str, set[str]] = {}
    for crl in crls:
        try:
            kid, entries = shc.parse_crl(json.dumps(crl).encode(), keys=keys)
        except CredentialError as exc:
            raise ValueError(f"SHC revocation list: {exc}") from exc
        parsed[kid] = entries
    store.revoked_dcc.update(hashes)
    for kid, entries in parsed.items():
        store.revoked_shc.setdefault(kid, set()).update(entries)
