"""Revocation building blocks, pure: the UVCI check character, ``rid``, UCI hashes, the
trust list's ``revocations`` section and what it puts in a trust store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from healthcode.credentials import hcert, shc
from healthcode.credentials.trust import TrustStore
from healthcode.ecerts import mapping, revocation


# --- UVCI check character (eHN guidelines Annex 2, Luhn mod N) --------------------------
@pytest.mark.parametrize(
    ("text", "check"),
    [
        # eu-dcc-schema issue #63: "01LUX/18737512422923 -> E" with '#' left out of the code
        # points (as the schema project's reference implementation does)
        ("01LUX/18737512422923", "E"),
    ],
)
def test_luhn_mod_n_reference_values(text, check):
    assert mapping.uvci_check_character(text) == check
    assert mapping.uvci_checksum_valid(f"{text}#{check}")


def test_every_single_character_change_is_caught():
    uvci = mapping.uvci("110000", "KBN46GQF6CYB32SKGVDH")
    body, _, check = uvci.rpartition("#")
    assert mapping.uvci_checksum_valid(uvci)
    for i in range(len(body)):
        for ch in mapping.UVCI_CHECK_ALPHABET:
            if ch != body[i]:
                typo = body[:i] + ch + body[i + 1 :]
                assert not mapping.uvci_checksum_valid(f"{typo}#{check}"), typo
    # two neighbours swapped (a common typing error) is caught as well
    swapped = body[:-2] + body[-1] + body[-2]
    assert not mapping.uvci_checksum_valid(f"{swapped}#{check}")


def test_check_character_alphabet_and_bad_input():
    with pytest.raises(ValueError):
        mapping.uvci_check_character("urn:uvci:01:xh:1/abc")  # lower case is not in the set
    with pytest.raises(ValueError):
        mapping.uvci_check_character("URN:UVCI:01#")
    assert not mapping.uvci_checksum_valid("URN:UVCI:01:XH:110000/ABCDEFGH")  # no '#'
    assert not mapping.uvci_checksum_valid("URN:UVCI:01:XH:110000/ABCDEFGH#ZZ")


def test_uvci_serial_reads_our_uvcis_only():
    uvci = mapping.uvci("110000", "ABCDEFGH12345678")
    assert mapping.uvci_serial(uvci) == "ABCDEFGH12345678"
    assert mapping.uvci_serial(uvci.rpartition("#")[0].lower()) == "ABCDEFGH12345678"
    assert mapping.uvci_serial("URN:UVCI:01:NL:187/37512422923") is None  # another country's
    assert mapping.uvci_serial("ABCDEFGH12345678") is None
    wrong = mapping.UVCI_CHECK_ALPHABET[
        (mapping.UVCI_CHECK_ALPHABET.index(uvci[-1]) + 1) % len(mapping.UVCI_CHECK_ALPHABET)
    ]
    with pytest.raises(ValueError, match="check character"):
        mapping.uvci_serial(uvci[:-1] + wrong)


# --- rid and UCI hash ------------------------------------------------------------------
def test_rid_is_the_spec_hmac():
    secret, kid = bytes(range(32)), "svFrz6_-xTGWcm6VMZDesZu67IZnUBVwsfYJBMMHGtE"
    rid = revocation.shc_rid(secret, kid, "KBN46GQF6CYB32SKGVDH")
    expected = hmac.new(secret + kid.encode(), b"KBN46GQF6CYB32SKGVDH", hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(rid + "=") == expected[:8]
    assert len(rid) == 11 and shc._RID.match(rid)
    assert revocation.shc_rid(secret, kid, "KBN46GQF6CYB32SKGVDH") == rid  # stable
    assert revocation.shc_rid(secret, kid + "x", "KBN46GQF6CYB32SKGVDH") != rid  # per key
    assert revocation.shc_rid(secret, kid, "KBN46GQF6CYB32SKGVDJ") != rid  # per card


def test_uci_hash_is_what_the_dcc_revocation_stage_matches():
    uvci = mapping.uvci("110000", "KBN46GQF6CYB32SKGVDH")
    digest = hashlib.sha256(uvci.encode()).digest()[:16]
    assert base64.b64decode(revocation.uci_hash(uvci)) == digest
    payload = {"v": [{"ci": uvci, "co": "CN"}]}
    keys = hcert.revocation_keys(payload, b"\0" * 64, None)
    assert revocation.uci_hash(uvci).upper() in keys


# --- the trust list's section ----------------------------------------------------------
def _section(**kw):
    crl = revocation.shc_crl("kid1", 2, ["AAAAAAAAAAA"])
    return {**revocation.trust_list_section([revocation.uci_hash("X")], [crl]), **kw}


def test_section_shape_and_store():
    section = _section()
    assert section == {
        "dcc": {"hash_type": "UCI", "hashes": [revocation.uci_hash("X")]},
        "shc": [{"kid": "kid1", "method": "rid", "ctr": 2, "rids": ["AAAAAAAAAAA"]}],
    }
    store = TrustStore()
    revocation.apply_to_store(json.loads(json.dumps(section)), store)
    assert store.revoked_dcc == {revocation.uci_hash("X")}
    assert store.revoked_shc == {"kid1": {"AAAAAAAAAAA"}}
    empty = TrustStore()
    revocation.apply_to_store(
        revocation.trust_list_section([], [revocation.shc_crl("k", 1, [])]), empty
    )
    assert empty.revoked_shc == {"k": set()}  # a key with a list: its cards get the stage checked
    revocation.apply_to_store(None, empty)  # a list made before revocations: nothing added
    assert empty.revoked_dcc == set()


@pytest.mark.parametrize(
    "section",
    [
        "not an object",
        _section(dcc={"hash_type": "SIGNATURE", "hashes": []}),
        _section(dcc={"hash_type": "UCI", "hashes": ["not base64!"]}),
        _section(dcc={"hash_type": "UCI", "hashes": [base64.b64encode(b"short").decode()]}),
        _section(dcc={"hash_type": "UCI"}),
        _section(shc={"kid": "k"}),
        _section(shc=[{"kid": "k", "method": "other", "ctr": 1, "rids": []}]),
        _section(shc=[{"kid": "k", "method": "rid", "ctr": 1, "rids": ["a", "a"]}]),
    ],
)
def test_malformed_sections_are_refused(section):
    store = TrustStore()
    with pytest.raises(ValueError):
        revocation.apply_to_store(section, store)
    assert store.revoked_dcc == set() and store.revoked_shc == {}  # nothing half-added


def test_crl_version_must_match_the_key():
    section = _section()
    with pytest.raises(ValueError, match="crlVersion"):
        revocation.apply_to_store(
            section, TrustStore(), shc_keys=[{"kid": "kid1", "crlVersion": 1}]
        )
    revocation.apply_to_store(section, TrustStore(), shc_keys=[{"kid": "kid1", "crlVersion": 2}])
