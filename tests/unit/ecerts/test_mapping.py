"""E-certificate building blocks, pure: names, vaccine codes, encoders, QR symbols."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode.credentials import cose, hcert, shc
from healthcode.credentials.errors import PayloadTooLarge
from healthcode.credentials.pipeline import verify
from healthcode.credentials.qr import decode_image, encode_png, symbol
from healthcode.credentials.trust import TrustStore
from healthcode.ecerts import mapping, pki

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "family", "given", "latin"),
    [
        ("张三丰", "张", "三丰", "ZHANG SANFENG"),
        ("欧阳修", "欧阳", "修", "OUYANG XIU"),
        ("单雄信", "单", "雄信", "SHAN XIONGXIN"),  # a surname read differently
        ("曾国藩", "曾", "国藩", "ZENG GUOFAN"),
        ("吕女", "吕", "女", "LYU NYU"),  # ü as YU, as in Chinese passports
        ("阿依古丽·买买提", "买买提", "阿依古丽", "MAIMAITI AYIGULI"),
        ("SMITH, John Paul", "SMITH", "John Paul", "SMITH JOHN PAUL"),
        ("Müller Jürgen", "Müller", "Jürgen", "MUELLER JUERGEN"),
        ("李", "李", "", "LI"),
    ],
)
def test_names_split_and_transliterated(name, family, given, latin):
    person = mapping.split_name(name)
    assert (person.family, person.given, person.latin) == (family, given, latin)
    assert person.written == name
    for part in (person.family_icao, person.given_icao):
        assert part == "" or all(c.isascii() and (c.isupper() or c == "<") for c in part)
    nam = mapping.dcc_name(person)
    assert ("gn" in nam) == bool(given)


@pytest.mark.parametrize(
    ("product", "mp", "sd"),
    [
        ("北京科兴 CoronaVac", "CoronaVac", 2),
        ("克尔来福", "CoronaVac", 2),
        ("国药中生北京 新冠灭活疫苗", "BBIBP-CorV", 2),
        ("武汉生物", "WIBP-CorV", 2),
        ("克威莎 (CanSino)", "Convidecia", 1),
        ("Pfizer-BioNTech", "EU/1/20/1528", 2),
    ],
)
def test_known_vaccines(product, mp, sd):
    entry = mapping.dcc_vaccination_entry(
        {"dose": 1, "date": "2022-01-01", "product": product}, issuer="x", certificate_id="c"
    )
    assert entry["mp"] == mp and entry["sd"] == sd and entry["vp"] != mapping.DCC_VP_UNKNOWN


def test_unknown_vaccine_and_booster_encoding():
    entry = mapping.dcc_vaccination_entry(
        {"dose": 3, "date": "2022-01-01", "product": "智飞 ZF2001"}, issuer="i", certificate_id="c"
    )
    assert (entry["mp"], entry["ma"], entry["vp"]) == ("智飞 ZF2001", "unknown", "28531000087107")
    assert (entry["dn"], entry["sd"]) == (3, 3)  # a dose past the series is n/n
    assert mapping.dose_numbers(1, None) == (1, 2)
    assert (
        mapping.fhir_immunization({"dose": 1, "date": "2022-01-01", "product": ""})["vaccineCode"][
            "coding"
        ][0]["code"]
        == mapping.SHC_CVX_UNKNOWN
    )


def test_uvci_is_ours():
    # with the check character of Annex 2 (Luhn mod 38 over the whole text)
    assert mapping.uvci("310000", "ABCDEFGH12345678") == "URN:UVCI:01:XH:310000/ABCDEFGH12345678#6"
    with pytest.raises(ValueError):
        mapping.uvci("310000", "abc")


def _dsc() -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    csca_key = ec.generate_private_key(ec.SECP256R1())
    csca = pki.csca_certificate(
        csca_key, region_code="110000", region_name="北京市", at=AT, demo=True
    )
    key = ec.generate_private_key(ec.SECP256R1())
    dsc = pki.dsc_certificate(
        key.public_key(), csca_key=csca_key, csca=csca, region_code="110000",
        region_name="北京市", at=AT, demo=True,
    )  # fmt: skip
    return key, dsc


def test_hcert_encode_round_trip_and_bounds():
    key, dsc = _dsc()
    kid = hcert.certificate_kid(dsc)
    payload = {"ver": "1.3.0", "nam": {"fnt": "LI"}, "dob": "", "t": [{"tg": "840539006"}]}
    text = hcert.encode(payload, key=key, kid=kid, issuer_country="XH", issued_at=AT,
                        expires_at=AT + timedelta(days=1))  # fmt: skip
    report = verify(text, trust=TrustStore(dcc={kid: [dsc]}), at=AT + timedelta(hours=1))
    assert report.verdict == "valid" and report.claims["iss"] == "XH"
    assert report.claims["hcert"] == payload and report.stages["key_usage"] is True
    assert report.claims["exp"] - report.claims["iat"] == 86400
    with pytest.raises(ValueError):
        hcert.encode(payload, key=key, kid=kid, issuer_country="XH", issued_at=AT, expires_at=AT)
    with pytest.raises(ValueError):
        hcert.encode(payload, key=key, kid=kid, issuer_country="XH",
                     issued_at=AT.replace(tzinfo=None), expires_at=AT + timedelta(days=1))  # fmt: skip


def test_sig_structure_is_deterministic_cbor():
    for size in (0, 23, 24, 255, 256, 65535, 65536):
        s = cose.Sign1(b"\xa1\x01\x26", {}, {}, b"x" * size, b"", ())
        assert s.to_be_signed() == cbor2.dumps(["Signature1", b"\xa1\x01\x26", b"", b"x" * size])


def test_shc_encode_and_key_set():
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = shc.public_jwk(key.public_key())
    assert jwk["kid"] == shc.jwk_thumbprint(jwk)  # our RFC 7638 thumbprint = jwcrypto's
    assert shc.validate_keyset({"keys": [jwk]}, iss="https://x.example/issuers/1") == [jwk]
    vc = mapping.shc_vc(
        "test",
        mapping.fhir_patient(mapping.split_name("张三丰"), "1990-01-02"),
        [mapping.fhir_observation({"kind": "antigen", "result": "negative",
                                   "sampled_at": "2024-05-01T08:00:00+08:00"})],
    )  # fmt: skip
    card = shc.encode(vc, key=key, issuer="https://x.example/issuers/1", issued_at=AT)
    trust = TrustStore(shc={"https://x.example/issuers/1": [jwk]})
    report = verify(card.qr_text, trust=trust, at=AT)
    assert report.verdict == "valid" and report.warnings == [] and report.type == "test"
    assert card.qr_text == "shc:/" + shc.jws_to_numeric(card.jws)
    header = json.loads(shc.b64url_decode(card.jws.split(".")[0]))
    assert header == {"alg": "ES256", "zip": "DEF", "kid": jwk["kid"]}
    # too large for one QR symbol: refused, never chunked
    big = dict(vc, padding=[str(i) * 40 for i in range(400)])
    with pytest.raises(PayloadTooLarge):
        shc.encode(big, key=key, issuer="https://x.example/issuers/1", issued_at=AT)


def test_shc_qr_symbol_is_byte_plus_numeric_and_fits_version_22():
    jws = "e" * shc.MAX_SINGLE_JWS  # the longest JWS a card may have
    text = "shc:/" + shc.jws_to_numeric(jws)
    qr = symbol(text)
    assert qr.version <= shc.MAX_QR_VERSION and qr.error == "L"
    small = "shc:/" + shc.jws_to_numeric("eyJhbGciOiJFUzI1NiJ9.abc.def")
    assert decode_image(encode_png(small)) == [small]


def test_ecdsa_der_is_what_cryptography_encodes():
    import os

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    edges = [bytes(32), b"\x80" + bytes(31), b"\x00\x7f" + os.urandom(30), b"\xff" * 32]
    for r in [*edges, *(os.urandom(32) for _ in range(200))]:
        for s in (bytes(32), b"\x00\x80" + bytes(30), os.urandom(32)):
            want = encode_dss_signature(int.from_bytes(r, "big"), int.from_bytes(s, "big"))
            assert cose._der_signature(r, s) == want
    r48 = b"\x80" + os.urandom(47)
    assert cose._der_signature(r48, r48) == encode_dss_signature(*[int.from_bytes(r48, "big")] * 2)
