"""Trust, key-set and CRL files built to slip past the loaders.

- A signer certificate (DSC, or an ``x5c`` leaf) whose key the pipeline cannot verify
  with is refused when loaded — kids are public, so a loaded one would let anyone make
  every credential naming it fail inside the verifier.
- A key set with a non-string ``x5c`` entry is refused with a reason, never a crash.
- A certificate file or EU DCC trust list that gives no certificate is refused; base64
  is decoded strictly.
- SHC CRL numbers are JSON integers (``true``/``1.0`` never match ``crlVersion: 1``) and
  ``rid.ts`` timestamps ASCII digits.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from healthcode.credentials import shc, trustload
from healthcode.credentials.errors import IssuerKeysInvalid
from healthcode.credentials.hcert import certificate_kid
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import (
    TrustFileInvalid,
    load_configured_trust,
    load_dcc_certificates,
    load_shc_crls,
    load_shc_keysets,
    parse_dcc_certificates,
    parse_dcc_trust_list,
)
from tests.support.shared import shared_path

ISS = "https://spec.smarthealth.cards/examples/issuer"
#: id-ecPublicKey (1.2.840.10045.2.1) as DER, and an OID no library knows (…2.9).
EC_PUBLIC_KEY_OID = bytes.fromhex("06072a8648ce3d0201")
UNKNOWN_KEY_OID = bytes.fromhex("06072a8648ce3d0209")


def make_cert(key: Any, *, uri: str | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Attack DSC")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
    )
    if uri:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]), critical=False
        )
    signer = ec.generate_private_key(ec.SECP256R1())
    return builder.sign(signer, hashes.SHA256())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def unknown_algorithm_der(*, uri: str | None = None) -> bytes:
    """A certificate whose key is of an algorithm no library knows (its OID changed)."""
    data = der(make_cert(ec.generate_private_key(ec.SECP256R1()), uri=uri))
    assert data.count(EC_PUBLIC_KEY_OID) == 1
    return data.replace(EC_PUBLIC_KEY_OID, UNKNOWN_KEY_OID)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def spec_jwks() -> dict[str, Any]:
    path = shared_path("vectors", "shc", "spec-examples", "issuer", ".well-known", "jwks.json")
    return json.loads(path.read_text(encoding="utf-8"))


# --- 2. signer keys the pipeline cannot use ---------------------------------------------------
@pytest.mark.parametrize(
    ("key", "words"),
    [
        (ec.generate_private_key(ec.SECP521R1()), "EC key on curve secp521r1"),
        (ec.generate_private_key(ec.SECP256K1()), "EC key on curve secp256k1"),
        (
            rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505
            "RSA key of 1024 bits",
        ),
    ],
    ids=["p521", "secp256k1", "rsa1024"],
)
def test_a_dsc_with_a_key_the_pipeline_cannot_use_is_refused(key, words) -> None:
    cert = make_cert(key)
    kid = b64(certificate_kid(cert))
    with pytest.raises(TrustFileInvalid) as info:
        parse_dcc_certificates(der(cert), name="dsc.der")
    assert info.value.message.startswith(f"dsc.der: certificate 1 (CN=Attack DSC, kid {kid})")
    assert words in info.value.message and info.value.code == "trust-file-invalid"


def test_a_dsc_of_an_unknown_key_algorithm_is_refused_in_every_file_shape() -> None:
    data = unknown_algorithm_der()
    good = der(make_cert(ec.generate_private_key(ec.SECP256R1())))
    pem = b"".join(
        x509.load_der_x509_certificate(d).public_bytes(serialization.Encoding.PEM)
        for d in (good, data)
    )
    for shape in (data, pem, f"{b64(good)}\n{b64(data)}\n".encode()):
        with pytest.raises(TrustFileInvalid, match="unsupported or unreadable public key"):
            parse_dcc_certificates(shape, name="dsc")
    listed = json.dumps({"certificates": [{"certificateType": "DSC", "rawData": b64(data)}]})
    with pytest.raises(TrustFileInvalid, match=r"list\.json: certificate 1 .*unsupported"):
        parse_dcc_trust_list(listed.encode(), name="list.json")


def test_the_server_refuses_a_configured_dsc_of_an_unknown_key_algorithm(tmp_path: Path) -> None:
    (tmp_path / "dsc.der").write_bytes(unknown_algorithm_der())
    (source,) = load_configured_trust([tmp_path / "dsc.der"], [], trust=TrustStore())
    assert source.code == "trust-file-invalid" and "certificate 1" in str(source.message)


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["p256", "p384", "rsa2048", "ed25519"],
)
def test_the_keys_the_pipeline_verifies_with_are_loaded(key) -> None:
    cert = make_cert(key)
    assert parse_dcc_certificates(der(cert)) == [cert]


# --- 2. key sets: x5c entries that are not strings, x5c leaves of unknown keys ----------------
def _keyset(tmp_path: Path, **changes: Any) -> Path:
    doc = spec_jwks()
    doc["keys"] = [dict(doc["keys"][0], **changes)]
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_a_non_string_x5c_entry_refuses_the_key_set_without_a_crash(tmp_path: Path) -> None:
    path = _keyset(tmp_path, x5c=[123])
    with pytest.raises(IssuerKeysInvalid, match="x5c holds an entry that is not a base64 string"):
        shc.keyset_issuer(json.loads(path.read_text()))
    bare = load_shc_keysets([path])  # no issuer named: the set is refused by its path
    assert "not a base64 string" in bare.shc_errors[str(path)] and not bare.shc
    named = load_shc_keysets([(ISS, path)])
    assert "not a base64 string" in named.shc_errors[ISS] and not named.shc
    (source,) = load_configured_trust([], [str(path)], trust=TrustStore())
    assert source.code == "issuer-keys-invalid" and "not a base64 string" in str(source.message)


def test_an_x5c_leaf_of_an_unknown_key_algorithm_refuses_the_key_set(tmp_path: Path) -> None:
    path = _keyset(tmp_path, x5c=[b64(unknown_algorithm_der(uri=ISS))])
    store = load_shc_keysets([(ISS, path)])
    assert "x5c leaf certificate has an unsupported or unreadable key" in store.shc_errors[ISS]
    assert shc.keyset_issuer(json.loads(path.read_text())) == ISS  # the SAN is still readable


@pytest.mark.parametrize("version", [True, 1.0, "1", [1], -1])
def test_crl_version_must_be_a_json_integer(tmp_path: Path, version) -> None:
    store = load_shc_keysets([(ISS, _keyset(tmp_path, crlVersion=version))])
    assert "crlVersion is not a non-negative JSON integer" in store.shc_errors[ISS]


# --- 3. files that give no certificate, base64 that is not clean ------------------------------
@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"{}", "no signer certificate"),
        (b"[]", "no signer certificate"),
        (b'{"certificates": []}', "no signer certificate"),
        (b'{"certificates": 5}', "certificates is not a JSON array"),
        (b'{"certificates": [{"rawData": 5}]}', "entry 1: no certificate"),
        (b'[{"kid": "AAAAAAAAAAA=", "rawData": ["x"]}]', "entry 1: no certificate"),
        (b'{"certificates": [{"kid": "AAAAAAAAAAA="}]}', "entry 1: no certificate"),
        (b"[5]", "entry 1: not a certificate entry"),
        (b'{"certificates": [{"certificateType": "CSCA", "rawData": "AA=="}]}', "no signer"),
    ],
)
def test_a_trust_list_that_gives_no_certificate_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(TrustFileInvalid, match=words):
        parse_dcc_trust_list(data, name="list.json")


def test_trust_list_base64_is_strict_but_may_be_padded_with_white_space() -> None:
    data = der(make_cert(ec.generate_private_key(ec.SECP256R1())))
    text = b64(data)
    clean = {"certificates": [{"rawData": f"\n {text} \n", "kid": " AAAAAAAAAAA= "}]}
    assert parse_dcc_trust_list(json.dumps(clean).encode()) == {
        bytes(8): [x509.load_der_x509_certificate(data)]
    }
    for raw, kid in [
        (text[:40] + "*" + text[40:], None),  # junk inside the certificate
        (text[:40] + " " + text[40:], None),  # a space inside
        (text, "AAAA$AAAAAA="),  # junk inside the kid
        (text, 5),  # a kid that is not a string
    ]:
        entry: dict[str, Any] = {"rawData": raw} | ({"kid": kid} if kid is not None else {})
        with pytest.raises(TrustFileInvalid, match="entry 1"):
            parse_dcc_trust_list(json.dumps([entry]).encode(), name="list.json")


def test_a_pem_certificate_without_its_end_line_is_refused(tmp_path: Path) -> None:
    pem = make_cert(ec.generate_private_key(ec.SECP256R1())).public_bytes(
        serialization.Encoding.PEM
    )
    cut = pem.replace(b"-----END CERTIFICATE-----", b"")
    for data in (cut, b"-----BEGIN CERTIFICATE-----\n", pem + cut):
        (tmp_path / "dsc.pem").write_bytes(data)
        with pytest.raises(TrustFileInvalid, match="BEGIN CERTIFICATE without its END"):
            load_dcc_certificates([tmp_path / "dsc.pem"])
    (tmp_path / "dsc.pem").write_bytes(pem + pem)
    assert sum(map(len, load_dcc_certificates([tmp_path / "dsc.pem"]).values())) == 2


# --- 4. CRL numbers ----------------------------------------------------------------------------
def _crl(tmp_path: Path, kid: str, **fields: Any) -> Path:
    doc = {"kid": kid, "method": "rid", "ctr": 1, "rids": []} | fields
    path = tmp_path / f"{kid}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"ctr": True}, "CRL ctr 'true' is not a non-negative JSON integer"),
        ({"ctr": 1.0}, "CRL ctr '1.0' is not"),
        ({"ctr": "1"}, "is not a non-negative JSON integer"),
        ({"ctr": None}, "is not a non-negative JSON integer"),
        ({"rids": ["abc.\u0661\u0662\u0663"]}, "not 1 to 19 ASCII digits"),
        ({"rids": ["abc.\uff11\uff12"]}, "not 1 to 19 ASCII digits"),
        ({"rids": ["abc."]}, "not 1 to 19 ASCII digits"),
        ({"rids": ["abc." + "1" * 5000]}, "not 1 to 19 ASCII digits"),
    ],
)
def test_crl_numbers_must_be_json_integers_and_ascii_digits(tmp_path: Path, fields, words) -> None:
    jwks = spec_jwks()
    key = dict(jwks["keys"][0], crlVersion=1)
    path = _crl(tmp_path, key["kid"], **fields)
    with pytest.raises(TrustFileInvalid, match=words):
        load_shc_crls([path], trust=TrustStore(shc={ISS: [key]}), strict=True)
    lenient = load_shc_crls([path], trust=TrustStore(shc={ISS: [key]}))
    (entry,) = lenient.revoked_shc[key["kid"]]
    assert entry.startswith(shc.CRL_INVALID)  # every card of that key fails revocation


def test_a_crl_with_integer_numbers_still_loads(tmp_path: Path) -> None:
    key = dict(spec_jwks()["keys"][0], crlVersion=1)
    path = _crl(tmp_path, key["kid"], rids=["abc.1700000000", "def"])
    store = load_shc_crls([path], trust=TrustStore(shc={ISS: [key]}), strict=True)
    assert store.revoked_shc[key["kid"]] == {"abc.1700000000", "def"}


# --- 6. the server's files, re-read at run time, keep the size bound --------------------------
def test_configured_trust_files_are_read_up_to_the_bound(tmp_path: Path, monkeypatch) -> None:
    cert = make_cert(ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "dsc.der").write_bytes(der(cert))
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(spec_jwks()), encoding="utf-8")
    monkeypatch.setattr(trustload, "MAX_FILE_BYTES", 100)
    sources = load_configured_trust(
        [tmp_path / "dsc.der"], [f"{ISS}={jwks}"], trust=(store := TrustStore())
    )
    assert [(s.code, "larger than 100 bytes" in str(s.message)) for s in sources] == [
        ("trust-file-invalid", True),
        ("trust-file-invalid", True),
    ]
    assert not store.dcc and not store.shc


def test_a_trusted_dsc_of_an_unknown_key_algorithm_never_crashes_verification() -> None:
    """Defence in depth: a store built in code (not through the loaders) holding such a
    certificate gives a report for a code naming its kid, not an exception."""
    from healthcode.credentials.pipeline import verify
    from tests.unit.credentials.test_attack_regressions import claims, hc1, sign1

    cert = x509.load_der_x509_certificate(unknown_algorithm_der())
    kid = certificate_kid(cert)
    report = verify(hc1(sign1(claims(), kid=kid)), trust=TrustStore(dcc={kid: [cert]}),
                    at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC))  # fmt: skip
    assert report.verdict == "invalid"
    assert report.stages["signature"] is False
