"""Fuzz the international decoders (HC1, SHC, key sets, CRLs, trust lists) with hypothesis.

Every input must give a report (or the documented exception of a loader) within
bounded time — never another exception, never a hang. Runs each target for the
given number of minutes; a crash is printed with its shrunk input and saved under
``benchmarks/fuzz-crashes/`` so it can be turned into a test.

Usage: ``python benchmarks/fuzz_international.py --minutes 3 [--target hc1 shc …]``
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import traceback
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthcode.credentials import shc
from healthcode.credentials.base45 import ALPHABET, b45encode
from healthcode.credentials.errors import IssuerKeysInvalid, RevocationListInvalid
from healthcode.credentials.pipeline import verify
from healthcode.credentials.trust import TrustStore
from healthcode.credentials.trustload import TrustFileInvalid, parse_dcc_trust_list

AT = datetime(2024, 5, 1, tzinfo=UTC)
TRUST = TrustStore()
#: Longest time one input may take, in seconds.
MAX_SECONDS = 1.0
OUT = Path(__file__).with_name("fuzz-crashes")

# seeds: a valid-looking HC1 COSE and an SHC JWS (unsigned by a trusted key, but well formed)
SEED_COSE = bytes.fromhex(
    "d2844da2044804bde79bdb2ae6600126a0590124a4041a6092dd20061a60903a2001624154390103a101a4"
    "617681aa62646e01626d616d4f52472d3130303033303231356276706a3131313933303530303562647"
    "46a323032312d30322d313862636f624154"
)


def timed(fn: Callable[[], object]) -> None:
    start = time.perf_counter()
    fn()
    spent = time.perf_counter() - start
    if spent > MAX_SECONDS:
        raise AssertionError(f"took {spent:.2f} s")


def check_report(inputs: list[str] | str) -> None:
    def run() -> None:
        report = verify(inputs, trust=TRUST, at=AT)
        json.dumps(report.to_dict())  # the public shape must serialise

    timed(run)


def mutate(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, value in flips:
        if buf:
            buf[pos % len(buf)] = value
    return bytes(buf)


FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
)
flips = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=8)


@FUZZ
@given(st.text(alphabet=ALPHABET + "HC1:%\r\n\x00é", max_size=800))
def fuzz_hc1_text(text: str) -> None:
    check_report("HC1:" + text)
    check_report(text)


@FUZZ
@given(st.binary(max_size=2000), st.booleans())
def fuzz_hc1_bytes(data: bytes, compress: bool) -> None:
    body = zlib.compress(data) if compress else data
    check_report("HC1:" + b45encode(body))


@FUZZ
@given(flips, st.binary(max_size=16))
def fuzz_hc1_mutated(changes: list[tuple[int, int]], tail: bytes) -> None:
    cose = mutate(SEED_COSE, changes) + tail
    check_report("HC1:" + b45encode(zlib.compress(cose)))


@FUZZ
@given(st.lists(st.text(alphabet="0123456789/shcSHC:", max_size=400), min_size=1, max_size=4))
def fuzz_shc_numeric(parts: list[str]) -> None:
    check_report(["shc:/" + p for p in parts])


@FUZZ
@given(
    st.binary(max_size=600), st.dictionaries(st.text(max_size=5), st.text(max_size=10), max_size=4)
)
def fuzz_shc_jws(body: bytes, header: dict[str, str]) -> None:
    head = dict(header, alg="ES256", zip="DEF", kid="k")
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = deflater.compress(body) + deflater.flush()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    jws = f"{b64(json.dumps(head).encode())}.{b64(payload)}.{b64(body[:64])}"
    check_report(jws)
    check_report("shc:/" + shc.jws_to_numeric(jws))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=30,
)


@FUZZ
@given(json_values)
def fuzz_shc_payload(doc: object) -> None:
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = json.dumps({"iss": "https://x.example", "nbf": 1, "vc": doc}).encode()
    payload = deflater.compress(raw) + deflater.flush()
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    head = b64(json.dumps({"alg": "ES256", "zip": "DEF", "kid": "k"}).encode())
    check_report(f"{head}.{b64(payload)}.{b64(bytes(64))}")


@FUZZ
@given(json_values, st.binary(max_size=300))
def fuzz_loaders(doc: object, junk: bytes) -> None:
    for data in (json.dumps(doc).encode(), junk, json.dumps({"keys": [doc]}).encode()):
        try:
            shc.validate_keyset(shc.parse_keyset(data), iss="https://x.example")
        except IssuerKeysInvalid:
            pass
        try:
            shc.parse_crl(data)
        except RevocationListInvalid:
            pass
        try:
            parse_dcc_trust_list(data)
        except TrustFileInvalid:
            pass
        timed(lambda d=data: shc.verify_file(d, trust=TRUST, at=AT))  # type: ignore[misc]


TARGETS: dict[str, list[Callable[[], None]]] = {
    "hc1": [fuzz_hc1_text, fuzz_hc1_bytes, fuzz_hc1_mutated],
    "shc": [fuzz_shc_numeric, fuzz_shc_jws, fuzz_shc_payload],
    "loaders": [fuzz_loaders],
}


def run_for(name: str, tests: list[Callable[[], None]], minutes: float) -> int:
    """Run ``tests`` in rotation for ``minutes``; returns the number of crashes found."""
    deadline = time.monotonic() + minutes * 60
    crashes = rounds = 0
    examples = 0
    while time.monotonic() < deadline:
        for test in tests:
            try:
                test()
            except Exception:  # a crash: keep the shrunk example
                crashes += 1
                OUT.mkdir(exist_ok=True)
                text = traceback.format_exc()
                path = OUT / f"{name}-{test.__name__}-{int(time.time())}.txt"
                path.write_text(text)
                print(f"CRASH in {test.__name__}: saved {path}\n{text[-2000:]}", file=sys.stderr)
            examples += 300
        rounds += 1
    print(f"{name}: {examples} inputs in {minutes:.1f} min, {crashes} crash(es)")
    return crashes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--minutes", type=float, default=3.0, help="fuzzing time per target, in minutes"
    )
    parser.add_argument("--target", nargs="*", choices=sorted(TARGETS), default=sorted(TARGETS))
    args = parser.parse_args()
    total = sum(run_for(name, TARGETS[name], args.minutes) for name in args.target)
    raise SystemExit(1 if total else 0)


if __name__ == "__main__":
    main()
