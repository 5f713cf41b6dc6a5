"""Base45 (RFC 9285): RFC examples, strict rejection, and differential tests.

The ``base45`` PyPI package is the reference; the only place it is laxer than
us is that it strips trailing newlines before decoding.
"""

from __future__ import annotations

import base45 as reference
import pytest
from hypothesis import given
from hypothesis import strategies as st

from healthcode.credentials.base45 import ALPHABET, b45decode, b45encode
from healthcode.credentials.errors import Base45Invalid, CredentialError

# RFC 9285 §4.3 (encoding) and §4.4 (decoding) examples.
RFC_EXAMPLES = [
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
]


@pytest.mark.parametrize(("data", "text"), RFC_EXAMPLES, ids=[t for _, t in RFC_EXAMPLES])
def test_rfc_9285_examples_encode(data: bytes, text: str) -> None:
    assert b45encode(data) == text


@pytest.mark.parametrize(("data", "text"), RFC_EXAMPLES, ids=[t for _, t in RFC_EXAMPLES])
def test_rfc_9285_examples_decode(data: bytes, text: str) -> None:
    assert b45decode(text) == data


def test_rfc_9285_section_4_4_decode_example() -> None:
    assert b45decode("QED8WEX0") == b"ietf!"


def test_empty() -> None:
    assert b45encode(b"") == ""
    assert b45decode("") == b""


def test_space_and_percent_survive() -> None:
    # "%69 VD92EX0" holds both; nothing may be stripped or URL-decoded.
    assert b45decode(" 00") == bytes([0, 36])  # " " is 36: 36 + 0*45 + 0*2025
    assert b45decode("%0") == bytes([38])  # "%" is 38
    assert b45decode("0 0") == (36 * 45).to_bytes(2, "big")
    assert b45encode(b"Hello!!").count(" ") == 1


def test_accepts_bytearray_and_memoryview() -> None:
    assert b45encode(bytearray(b"AB")) == "BB8"
    assert b45encode(memoryview(b"ietf!")) == "QED8WEX0"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("GGW", id="triple-65536"),  # 16 + 16*45 + 32*2025 = 65536
        pytest.param(":::", id="triple-max-91124"),
        pytest.param("GGW00", id="triple-65536-before-pair"),
        pytest.param("BB8GGW", id="bad-triple-after-good-one"),
        pytest.param("GG", id="pair-736"),  # 16 + 16*45 > 255
        pytest.param("BB8GG", id="final-pair-over-255"),
        pytest.param("V5", id="pair-256"),  # 31 + 5*45
        pytest.param("00 ", id="space-as-high-digit"),  # 36 * 2025 > 65535
        pytest.param("bb8", id="lowercase"),
        pytest.param("A", id="dangling-1"),
        pytest.param("BB8A", id="dangling-4"),
        pytest.param("BB8\n", id="trailing-newline"),
        pytest.param("\nBB8", id="leading-newline"),
        pytest.param("BB8 \t", id="tab"),
        pytest.param("BB_", id="underscore"),
        pytest.param("BB=", id="equals"),
        pytest.param("BBé", id="latin-1"),
        pytest.param("BB８", id="fullwidth-digit"),
        pytest.param("ＢB8", id="fullwidth-letter"),
        pytest.param("BB\u0000", id="nul"),
        pytest.param("B\ud800", id="lone-surrogate"),
        pytest.param("BB😀", id="emoji"),
    ],
)
def test_rejects_invalid(text: str) -> None:
    with pytest.raises(Base45Invalid):
        b45decode(text)


def test_triple_boundary() -> None:
    # 65535 = 15 + 16*45 + 32*2025 → "F" (15), "G" (16), "W" (32); "GGW" is 65536.
    assert b45decode("FGW") == b"\xff\xff"
    with pytest.raises(Base45Invalid):
        b45decode("GGW")


def test_pair_boundary() -> None:
    # 255 = 30 + 5*45 → "U" (30), "5" (5); "V5" is 256.
    assert b45decode("U5") == b"\xff"
    assert b45decode("FGWU5") == b"\xff\xff\xff"
    with pytest.raises(Base45Invalid):
        b45decode("FGWV5")


def test_percent_escape_is_base45_not_url() -> None:
    # "%20" is valid Base45 ("%" 38, "2" 2, "0" 0): decoded as such, never un-escaped.
    assert b45decode("%20") == (38 + 2 * 45).to_bytes(2, "big")


def test_error_is_a_credential_error_with_stable_code() -> None:
    with pytest.raises(CredentialError) as info:
        b45decode("GGW")
    assert info.value.code == "base45-invalid"


def test_rejects_non_str() -> None:
    with pytest.raises(TypeError):
        b45decode(b"BB8")  # type: ignore[arg-type]


def test_every_16_bit_value_matches_reference() -> None:
    # Covers the multiply-shift division for every possible group value.
    data = b"".join(i.to_bytes(2, "big") for i in range(65536))
    text = reference.b45encode(data).decode("ascii")
    assert b45encode(data) == text
    assert b45decode(text) == data


def test_every_single_byte_matches_reference() -> None:
    for i in range(256):
        assert b45encode(bytes([i])) == reference.b45encode(bytes([i])).decode("ascii")


def _reference_decode(text: str) -> bytes | None:
    try:
        decoded: bytes = reference.b45decode(text)
    except ValueError:
        return None
    return decoded


def _ours(text: str) -> bytes | None:
    try:
        return b45decode(text)
    except Base45Invalid:
        return None


def test_every_triple_and_pair_matches_reference() -> None:
    accepted = 0
    for e in ALPHABET:
        for d in ALPHABET:
            pair = e + d
            assert _ours(pair) == _reference_decode(pair), pair
            for c in ALPHABET:
                triple = c + d + e
                got = _ours(triple)
                assert got == _reference_decode(triple), triple
                accepted += got is not None
    assert accepted == 65536  # each 16-bit value has exactly one triple


@given(st.binary(max_size=2000))
def test_round_trip(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


@given(st.binary(max_size=2000))
def test_encode_matches_reference(data: bytes) -> None:
    assert b45encode(data) == reference.b45encode(data).decode("ascii")


@given(st.binary(max_size=2000))
def test_decode_of_valid_text_matches_reference(data: bytes) -> None:
    text = reference.b45encode(data).decode("ascii")
    assert b45decode(text) == reference.b45decode(text) == data


_MOSTLY_ALPHABET = st.text(
    alphabet=st.one_of(
        st.sampled_from(ALPHABET),
        st.sampled_from("abz\n\r\t_=#é８😀\x00"),
        st.characters(),
    ),
    max_size=60,
)


@given(st.one_of(_MOSTLY_ALPHABET, st.text(alphabet=ALPHABET, max_size=60), st.text(max_size=30)))
def test_decode_of_arbitrary_text_matches_reference(text: str) -> None:
    ours = _ours(text)
    if text.endswith("\n"):
        # The reference strips trailing newlines; a strict decoder must not.
        assert ours is None
        return
    assert ours == _reference_decode(text)
