"""The HP1: token: round trip, every failure class with its own reason code."""

import zlib
from datetime import UTC, datetime, timedelta

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.credentials import cose, native
from healthcode.credentials.base45 import b45decode, b45encode
from healthcode.credentials.errors import ClaimsInvalid
from healthcode.credentials.keys import generate_private_key, kid_for
from healthcode.credentials.model import Colour, HealthCodeClaims, LatestTest
from healthcode.credentials.pipeline import verify
from healthcode.credentials.trust import TrustedKey, TrustStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
KEY = generate_private_key("ES256")
KID = kid_for(KEY.public_key())
OTHER = generate_private_key("ES256")


def claims(**kw):
    base = dict(
        issuer="110000",
        subject="p-1234",
        issued_at=NOW,
        expires_at=NOW + timedelta(seconds=180),
        name_masked="张*丰",
        id_tail="002X",
        colour=Colour.YELLOW,
        code_name="北京健康宝",
        reasons=("HC-R-0005",),
        latest_test=LatestTest("pcr", "negative", NOW - timedelta(hours=20)),
        doses=3,
    )
    base.update(kw)
    return HealthCodeClaims(**base)


def trust(**kw):
    key = TrustedKey(kid=KID, issuer="110000", alg="ES256", public_key=KEY.public_key(), **kw)
    return TrustStore(native={KID: key})


def token(c=None, key=KEY, kid=KID):
    return native.encode(c or claims(), key=key, alg=cose.ALG_ES256, kid=kid)


def test_round_trip_is_valid_with_its_colour():
    r = verify(token(), trust=trust(), at=NOW + timedelta(seconds=10))
    assert r.verdict == "valid"
    assert (r.colour, r.status_code) == ("yellow", "01")
    assert all(
        r.stages[s]
        for s in (
            "prefix",
            "base45",
            "compression",
            "cose",
            "signer",
            "signature",
            "cbor",
            "expiry",
            "claims",
        )
    )
    assert r.stages["picture"] is None
    assert r.holder["name_masked"] == "张*丰"
    assert r.to_dict()["colour"] == "yellow"


def test_ed25519_keys_work_too():
    k = generate_private_key("EdDSA")
    kid = kid_for(k.public_key())
    t = native.encode(claims(), key=k, alg=cose.ALG_EDDSA, kid=kid)
    store = TrustStore(
        native={kid: TrustedKey(kid=kid, issuer="110000", alg="EdDSA", public_key=k.public_key())}
    )
    assert verify(t, trust=store, at=NOW).verdict == "valid"


def test_qr_text_is_alphanumeric_mode_only():
    alphabet = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
    assert set(token()) <= alphabet


@pytest.mark.parametrize(
    "at, code",
    [
        (NOW + timedelta(seconds=180 + 31), "expired"),
        (NOW - timedelta(seconds=31), "not-yet-valid"),
    ],
)
def test_validity_window_with_documented_skew(at, code):
    r = verify(token(), trust=trust(), at=at)
    assert r.verdict == "invalid" and r.colour is None
    assert r.stages["expiry"] is False and code in r.reasons
    assert r.stages["signature"] is True  # an expired code is not a forged one
    assert r.to_dict()["colour"] is None


def test_within_skew_is_still_valid():
    assert verify(token(), trust=trust(), at=NOW + timedelta(seconds=200)).verdict == "valid"
    assert verify(token(), trust=trust(), at=NOW - timedelta(seconds=20)).verdict == "valid"


def test_foreign_key_is_unknown_signer_and_colour_never_reported():
    forged = token(key=OTHER, kid=kid_for(OTHER.public_key()))
    r = verify(forged, trust=trust(), at=NOW)
    assert r.reasons == ["unknown-kid"]
    assert r.stages["signer"] is False and r.stages["signature"] is None
    assert r.stages["expiry"] is True  # independent checks still run
    assert r.to_dict()["colour"] is None


def test_resigned_with_another_key_under_the_trusted_kid():
    r = verify(token(key=OTHER, kid=KID), trust=trust(), at=NOW)
    assert r.reasons == ["signature-invalid"]


def test_revoked_key():
    r = verify(token(), trust=trust(status="revoked"), at=NOW)
    assert r.reasons == ["key-revoked"]


def test_demo_key_rejected_in_production_only():
    store = trust(demo=True)
    assert verify(token(), trust=store, at=NOW).verdict == "valid"
    store.production = True
    assert verify(token(), trust=store, at=NOW).reasons == ["demo-key-rejected"]


def test_region_key_cannot_sign_for_another_region():
    r = verify(token(claims(issuer="310000")), trust=trust(), at=NOW)
    assert "issuer-mismatch" in r.reasons


def test_colour_and_status_code_must_agree():
    c = claims()
    raw = cbor2.loads(native.claims_to_cbor(c))
    raw[native.CLAIM_HC]["s"] = "00"
    signed = cose.encode_sign1(cbor2.dumps(raw), key=KEY, alg=cose.ALG_ES256, kid=KID)
    t = native.PREFIX + b45encode(zlib.compress(signed))
    r = verify(t, trust=trust(), at=NOW)
    assert r.reasons == ["claims-invalid"]


def test_truncated_and_appended_and_wrong_prefix():
    t = token()
    assert verify(t[:-5], trust=trust(), at=NOW).verdict == "invalid"
    assert verify(t + "A", trust=trust(), at=NOW).verdict == "invalid"
    r = verify("HP2:" + t[4:], trust=trust(), at=NOW)
    assert r.format == "unknown" and r.stages["prefix"] is False


def test_data_after_the_zlib_stream_or_after_cose_is_rejected():
    signed = cose.decode_sign1(zlib.decompress(b45decode(token()[4:])))
    raw = zlib.decompress(b45decode(token()[4:]))
    r1 = verify(native.PREFIX + b45encode(zlib.compress(raw) + b"x"), trust=trust(), at=NOW)
    assert r1.reasons == ["decompression-failed"]
    r2 = verify(native.PREFIX + b45encode(zlib.compress(raw + b"\x00")), trust=trust(), at=NOW)
    assert r2.reasons == ["cose-invalid"]
    assert signed.kid == KID


def test_a_scanners_trailing_newline_is_dropped_but_nothing_else():
    assert verify(token() + "\r\n", trust=trust(), at=NOW).verdict == "valid"
    assert verify(" " + token(), trust=trust(), at=NOW).verdict == "invalid"


#: One fixed token for the property tests (ECDSA signatures are random, so each
#: new token compresses to a slightly different length).
TOKEN = token()


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_any_single_byte_change_of_the_signed_bytes_is_rejected(data):
    raw = bytearray(zlib.decompress(b45decode(TOKEN[4:])))
    i = data.draw(st.integers(0, len(raw) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != raw[i]))
    raw[i] = new
    t = native.PREFIX + b45encode(zlib.compress(bytes(raw)))
    assert verify(t, trust=trust(), at=NOW).verdict == "invalid"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_any_single_character_change_of_the_token_is_rejected(data):
    t = TOKEN
    i = data.draw(st.integers(4, len(t) - 1))
    c = data.draw(
        st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:").filter(lambda x: x != t[i])
    )
    changed = t[:i] + c + t[i + 1 :]
    report = verify(changed, trust=trust(), at=NOW)
    if report.verdict == "valid":
        # Only the deflate stream's unused padding bits in its last byte are
        # malleable: the signed COSE bytes must then be exactly the original ones.
        assert zlib.decompress(b45decode(changed[4:])) == zlib.decompress(b45decode(t[4:]))


@settings(max_examples=100, deadline=None)
@given(
    name=st.text(st.characters(categories=["Lo"]), min_size=1, max_size=10),
    colour=st.sampled_from(list(Colour)),
    doses=st.integers(0, 20),
    reasons=st.lists(st.from_regex(r"HC-R-\d{4}", fullmatch=True), max_size=5),
)
def test_round_trip_property(name, colour, doses, reasons):
    c = claims(name_masked=name, colour=colour, doses=doses, reasons=tuple(reasons))
    r = verify(token(c), trust=trust(), at=NOW)
    assert r.verdict == "valid"
    decoded = native.claims_from_map(
        cbor2.loads(cose.decode_sign1(zlib.decompress(b45decode(token(c)[4:]))).payload)
    )
    assert decoded == c


@given(st.text(max_size=400))
def test_garbage_never_raises(text):
    r = verify(text, trust=trust(), at=NOW)
    assert r.verdict == "invalid" and r.colour is None or text.startswith("HP1:")


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=3) | st.integers(-300, 10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    base=st.just(cbor2.loads(native.claims_to_cbor(claims()))),
    key=st.sampled_from([1, 2, 4, 6, "v", "n", "c", "s", "r", "d", "t", "demo"]),
    value=json_like,
)
def test_claims_of_any_shape_are_either_valid_or_claims_invalid(base, key, value):
    m = dict(base)
    hc = dict(m[native.CLAIM_HC])
    if isinstance(key, int):
        m[key] = value
    else:
        hc[key] = value
    m[native.CLAIM_HC] = hc
    try:
        native.claims_from_map(m)
    except ClaimsInvalid:
        pass
