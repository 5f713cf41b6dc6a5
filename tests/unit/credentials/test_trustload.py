"""The edge loaders with hostile files: every JSON input may carry a UTF-8 BOM, JSON
that cannot be parsed (also nested too deeply) is a ``TrustFileInvalid`` and never an
unexpected exception, files are read up to a bound, and a revocation list that cannot
be read completely is refused — verification never goes on as if there were no list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from healthcode.credentials import shc, trustload
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import (
    TrustFileInvalid,
    load_dcc_revocation_list,
    load_dcc_trust_list_json,
    load_revocation_files,
    load_shc_crls,
    load_shc_keysets,
    parse_dcc_certificates,
    parse_dcc_revocation_list,
    parse_json,
)
from tests.support.shared import shared_path

BOM = b"\xef\xbb\xbf"
DEEP = b"[" * 100_000
ISS = "https://spec.smarthealth.cards/examples/issuer"
KID = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s"


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def spec_jwks() -> Path:
    return shared_path("vectors", "shc", "spec-examples", "issuer", ".well-known", "jwks.json")


# --- JSON -------------------------------------------------------------------------------
def test_parse_json_accepts_a_bom_and_names_every_failure() -> None:
    assert parse_json(BOM + b'{"a": [1]}') == {"a": [1]}
    for data, words in [
        (DEEP, "x.json: JSON nested too deeply"),
        (b"{", "x.json: not JSON \\(.* at line 1 column 2\\)"),
        (b"\xff", "x.json: not UTF-8 text"),
        (b"[Infinity]", "Infinity is not a JSON value"),
        (b"[" + b"1" * 5000 + b"]", "not usable JSON"),  # int digits limit: a ValueError
    ]:
        with pytest.raises(TrustFileInvalid, match=words) as info:
            parse_json(data, name="x.json")
        assert info.value.code == "trust-file-invalid" and info.value.status == 400


@pytest.mark.parametrize("data", [DEEP, b"{", b"[" + b"1" * 5000 + b"]"])
def test_trust_list_json_that_cannot_be_parsed_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(TrustFileInvalid, match="list.json: "):
        load_dcc_trust_list_json(write(tmp_path, "list.json", data))


def test_files_are_read_up_to_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trustload, "MAX_FILE_BYTES", 10)
    path = write(tmp_path, "list.txt", "URN:UVCI:01:XH:ABCDEFGHIJ\n")
    with pytest.raises(TrustFileInvalid, match="list.txt: larger than 10 bytes"):
        load_dcc_revocation_list([path])
    with pytest.raises(TrustFileInvalid, match="cannot read"):
        load_dcc_revocation_list([tmp_path / "missing.txt"])


def test_certificates_may_start_with_a_bom() -> None:
    vector = json.loads(
        shared_path("vectors", "dcc", "DE", "2DCode", "raw", "2.json").read_text(encoding="utf-8")
    )
    b64 = vector["TESTCTX"]["CERTIFICATE"].encode()
    assert len(parse_dcc_certificates(BOM + b64)) == 1


# --- DCC trust lists: strict text, one optional signature line -----------------------------
def _dsc_trust_list() -> tuple[bytes, bytes]:
    """(a DCC trust list's JSON with one DSC, that DSC's kid)."""
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding

    from healthcode.credentials.hcert import certificate_kid
    from tests.unit.credentials.test_hcert import make_cert

    cert = make_cert(ec.generate_private_key(ec.SECP256R1()))
    doc = {"certificates": [{"certificateType": "DSC", "country": "DE",
                             "kid": base64.b64encode(certificate_kid(cert)).decode(),
                             "rawData": base64.b64encode(cert.public_bytes(Encoding.DER)).decode()}]}  # fmt: skip
    return json.dumps(doc).encode(), certificate_kid(cert)


#: A real-looking signature line: the German DSC list's first line is the base64 of the
#: list's ECDSA signature (DER), then a line break, then the JSON.
SIGNATURE_LINE = b"MEUCIQDtJ0k2q1xQ5p7w8pWZ0a3nq3vK1m0b1Yb5tC8p2Xx9dAIgY2V4Zm9vYmFyYmF6cXV4cXV1eA=="


@pytest.mark.parametrize(
    "prefix",
    [
        b"",
        BOM,
        b"\n  ",
        SIGNATURE_LINE + b"\n",
        SIGNATURE_LINE + b"\r\n",
        BOM + SIGNATURE_LINE + b"\n",
    ],
    ids=["plain", "bom", "whitespace", "signature-line", "signature-line-crlf", "bom-signature"],
)
def test_trust_list_json_alone_or_after_its_signature_line(tmp_path: Path, prefix: bytes) -> None:
    data, kid = _dsc_trust_list()
    assert list(load_dcc_trust_list_json(write(tmp_path, "list.json", prefix + data))) == [kid]


@pytest.mark.parametrize(
    ("prefix", "words"),
    [
        (b"\xff\xfe", "not UTF-8 text"),  # a UTF-16 byte-order mark: not skipped any more
        (b"GARBAGE SIGNATURE LINE\n", "not a DCC trust list"),  # spaces: no base64 signature
        (SIGNATURE_LINE + b"\n" + SIGNATURE_LINE + b"\n", "not a DCC trust list"),  # two lines
        (b"sig\n", "not a DCC trust list"),  # too short to be a signature
        (b"<html>\n", "not a DCC trust list"),
        (SIGNATURE_LINE + b" trailing\n", "not a DCC trust list"),
        (SIGNATURE_LINE, "not a DCC trust list"),  # the signature glued to the JSON
    ],
)
def test_anything_else_before_the_trust_list_json_is_refused(
    tmp_path: Path, prefix: bytes, words: str
) -> None:
    data, _ = _dsc_trust_list()
    with pytest.raises(TrustFileInvalid, match=f"list.json: {words}") as info:
        load_dcc_trust_list_json(write(tmp_path, "list.json", prefix + data))
    assert info.value.code == "trust-file-invalid"


def test_trust_list_bytes_are_decoded_strictly(tmp_path: Path) -> None:
    data, _ = _dsc_trust_list()
    broken = data.replace(b'"DE"', b'"D\xe9"')  # Latin-1 inside the JSON: never replaced
    with pytest.raises(TrustFileInvalid, match="not UTF-8 text"):
        load_dcc_trust_list_json(write(tmp_path, "list.json", broken))


def test_configured_trust_reports_each_file(tmp_path: Path) -> None:
    data, kid = _dsc_trust_list()
    good = write(tmp_path, "list.json", SIGNATURE_LINE + b"\n" + data)
    garbage = write(tmp_path, "garbage.json", b"GARBAGE SIGNATURE LINE\n" + data)
    jwks = write(tmp_path, "jwks.json", spec_jwks().read_bytes())
    refused = write(tmp_path, "rsa.json", json.dumps({"keys": [{"kty": "RSA", "kid": "k1"}]}))
    trust = TrustStore()
    sources = trustload.load_configured_trust(
        [good, garbage, tmp_path / "missing.pem"],
        [f"{ISS}={jwks}", f"https://other.example={refused}"],
        trust=trust,
    )
    assert [(s.format, s.kind, s.count, s.code) for s in sources] == [
        ("hc1", "trust-list", 1, None),
        ("hc1", "trust-list", 0, "trust-file-invalid"),
        ("hc1", "file", 0, "file-unreadable"),
        ("shc", "key-set", 2, None),
        ("shc", "key-set", 0, "issuer-keys-invalid"),
    ]
    assert list(trust.dcc) == [kid] and list(trust.shc) == [ISS]
    assert trust.shc_errors == {"https://other.example": "key k1: kty must be EC"}
    assert sources[0].describe() == (
        f"HEALTHCODE_DCC_TRUST: 1 signer certificate(s) (DSC) from trust list {good}"
    )
    assert (
        sources[2]
        .describe()
        .startswith(f"HEALTHCODE_DCC_TRUST: {tmp_path / 'missing.pem'}: cannot read")
    )
    # what a report may show: the file's name, never the server's path
    assert sources[1].to_dict() == {
        "format": "hc1", "setting": "HEALTHCODE_DCC_TRUST", "file": "garbage.json",
        "code": "trust-file-invalid",
    }  # fmt: skip


# --- SHC key sets -----------------------------------------------------------------------
def test_a_key_set_with_a_bom_is_accepted(tmp_path: Path) -> None:
    path = write(tmp_path, "jwks.json", BOM + spec_jwks().read_bytes())
    trust = load_shc_keysets([(ISS, path)])
    assert trust.shc_errors == {} and KID in [k["kid"] for k in trust.shc[ISS]]


@pytest.mark.parametrize("data", [DEEP, b"This is not JSON", b"{"])
def test_a_key_set_that_is_not_json(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "jwks.json", data)
    # the library (and the server) record the set as refused: its cards are not accepted
    trust = load_shc_keysets([(ISS, path)])
    assert ISS not in trust.shc and trust.shc_errors[ISS].startswith("key set is not JSON (")
    # the command line refuses the file outright
    with pytest.raises(TrustFileInvalid, match="jwks.json: "):
        load_shc_keysets([(ISS, path)], strict_json=True)


def test_a_refused_key_set_keeps_its_reason(tmp_path: Path) -> None:
    path = write(tmp_path, "jwks.json", json.dumps({"keys": [{"kty": "RSA", "kid": "k1"}]}))
    assert load_shc_keysets([(ISS, path)], strict_json=True).shc_errors == {
        ISS: "key k1: kty must be EC"
    }


# --- revocation ---------------------------------------------------------------------------
def test_dcc_lists_in_both_shapes_with_a_bom() -> None:
    lines = BOM + b"# revoked\nURN:UVCI:01:XH:ABC#1\n\n  0123456789ABCDEF0123456789ABCDEF \n"
    assert parse_dcc_revocation_list(lines) == {
        "URN:UVCI:01:XH:ABC#1",
        "0123456789ABCDEF0123456789ABCDEF",
    }
    assert parse_dcc_revocation_list(BOM + b'["URN:UVCI:01:XH:ABC#1", "q83vEjRWeJA="]') == {
        "URN:UVCI:01:XH:ABC#1",
        "q83vEjRWeJA=",
    }
    assert parse_dcc_revocation_list(b"[]") == set()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty revocation list"),
        (b" \n\n", "empty revocation list"),
        (b"{", "a JSON object is not a DCC revocation list"),
        (b'{"a": 1}', "a JSON object is not a DCC revocation list"),
        (b"[", "not JSON"),
        (DEEP, "nested too deeply"),
        (b'["URN:UVCI:01:XH:ABC#1", 5, null]', "2 entries are not a UVCI or hash: entry 1"),
        (b'[["URN:UVCI:01:XH:ABC#1"]]', "entry 0"),
        (b"URN:UVCI:01:XH:ABC#1\nURN:UVCI:01:XH:ABC#2, URN:UVCI:01:XH:ABC#3\n", "line 2"),
        (b'"URN:UVCI:01:XH:ABC#1"\n', "line 1"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_a_broken_dcc_list_is_refused_whole(data: bytes, words: str) -> None:
    with pytest.raises(TrustFileInvalid, match=words):
        parse_dcc_revocation_list(data, name="rev")


def _crl(tmp_path: Path, **fields: object) -> Path:
    doc: dict[str, object] = {"kid": KID, "method": "rid", "ctr": 1, "rids": ["FKDIxsTCGlU"]}
    doc.update(fields)
    return write(tmp_path, f"{KID}.json", json.dumps(doc))


def test_shc_crls_fail_closed(tmp_path: Path) -> None:
    for data in (b"{", DEEP, b'{"method": "rid", "rids": []}', b"[]"):
        with pytest.raises(TrustFileInvalid, match=f"{KID}.json: "):
            load_shc_crls([write(tmp_path, f"{KID}.json", data)], trust=TrustStore())
    # an unusable list with a kid: recorded so that key's cards are refused …
    bad = _crl(tmp_path, method="other")
    trust = load_shc_crls([bad], trust=TrustStore())
    assert next(iter(trust.revoked_shc[KID])).startswith(shc.CRL_INVALID)
    # … or, strictly (the command line), refused outright
    with pytest.raises(TrustFileInvalid, match="unusable SMART Health Card revocation list"):
        load_shc_crls([bad], trust=TrustStore(), strict=True)
    good = write(tmp_path, "crl.json", BOM + _crl(tmp_path).read_bytes())
    assert load_shc_crls([good], trust=TrustStore(), strict=True).revoked_shc == {
        KID: {"FKDIxsTCGlU"}
    }


def test_load_revocation_files_sorts_the_lists_and_refuses_a_broken_one(tmp_path: Path) -> None:
    dcc = write(tmp_path, "dcc.txt", "URN:UVCI:01:XH:ABC#1\n")
    crl = _crl(tmp_path)
    trust = load_revocation_files([dcc, crl], trust=TrustStore())
    assert trust.revoked_dcc == {"URN:UVCI:01:XH:ABC#1"}
    assert trust.revoked_shc == {KID: {"FKDIxsTCGlU"}}
    for data in (b"{", b'{"a": 1}', BOM + b"{", b" [1]"):
        broken = write(tmp_path, "broken.json", data)
        with pytest.raises(TrustFileInvalid, match="broken.json"):
            load_revocation_files([dcc, broken], trust=TrustStore())
    with pytest.raises(TrustFileInvalid, match="ctr|crlVersion"):
        keys = TrustStore(shc={ISS: [{"kid": KID, "crlVersion": 2}]})
        load_revocation_files([crl], trust=keys)


# --- any input: a result or the loader's own error, never another exception ----------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from healthcode.credentials.dcc_rules import RulesInvalid, check_rules  # noqa: E402

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_as_a_revocation_list(data: bytes) -> None:
    try:
        entries = parse_dcc_revocation_list(data)
    except TrustFileInvalid:
        return
    assert all(isinstance(e, str) and e == e.strip() and e for e in entries)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_any_json_as_a_rule_file(doc: object) -> None:
    try:
        check_rules(doc)
    except RulesInvalid as exc:
        assert exc.details is None or all("message" in e for e in exc.details["errors"])
    else:
        assert doc == []  # nothing random is a valid rule set but the empty one
