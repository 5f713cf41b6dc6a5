"""HC1 verification throughput on one core, against raw ES256 and a straightforward pipeline.

Prints, from one run:

- ``raw``: ES256 verifications/s of the DSC's key with ``cryptography`` (the floor of any
  verifier: every HC1 check does exactly one of these);
- ``healthcode``: end-to-end ``pipeline.verify`` of one ``HC1:`` text (prefix, strict Base45,
  bounded zlib, COSE, kid lookup, signature, CWT, expiry, key usage), schema off;
- ``healthcode+schema``: the same with the DCC JSON schema (when the shared data is there);
- ``straightforward``: the pipeline one writes from public libraries — ``base45`` +
  ``zlib`` + ``cbor2`` + ``cryptography`` — with the same checks minus the report;
- ratios: healthcode / raw (target ≥ 0.5), straightforward / raw, healthcode / straightforward;
- the same ratio from the least disturbed of many interleaved 100-call batches;
- the wall time of verifying every DCC conformance vector (``vectors/dcc``).

Usage: ``python benchmarks/bench_hc1.py [--seconds 2]`` (pins itself to one CPU when it can).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import base45
import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.x509.oid import NameOID

from healthcode.credentials import hcert
from healthcode.credentials.base45 import b45encode
from healthcode.credentials.pipeline import VerifyOptions, verify
from healthcode.credentials.trust import TrustStore

AT = datetime(2024, 5, 1, 12, tzinfo=UTC)
PAYLOAD = {
    "ver": "1.3.0",
    "nam": {
        "fn": "Musterfrau-Gößinger",
        "fnt": "MUSTERFRAU<GOESSINGER",
        "gn": "Gabriele",
        "gnt": "GABRIELE",
    },
    "dob": "1998-02-26",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 2,
            "sd": 2,
            "dt": "2024-02-18",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        }
    ],
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over about ``seconds`` (after a short warm-up)."""
    for _ in range(50):
        fn()
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(100):
            fn()
        count += 100
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def min_of_batches(
    first: Callable[[], object], second: Callable[[], object], *, batches: int = 300
) -> tuple[float, float]:
    """Seconds per call of each, the minimum over interleaved batches of 100 calls: the
    least disturbed batch of each, robust when other jobs share the machine."""
    best = [1.0, 1.0]
    for _ in range(batches):
        for i, fn in enumerate((first, second)):
            start = time.perf_counter()
            for _ in range(100):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / 100)
    return best[0], best[1]


def build() -> tuple[str, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Bench DSC")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(AT - timedelta(days=30))
        .not_valid_after(AT + timedelta(days=365))
        .add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.2")]), False
        )
        .sign(key, hashes.SHA256())
    )
    kid = hcert.certificate_kid(cert)
    claims = cbor2.dumps(
        {
            1: "AT",
            6: int(AT.timestamp()) - 86400,
            4: int(AT.timestamp()) + 86400 * 30,
            -260: {1: PAYLOAD},
        }
    )
    prot = cbor2.dumps({1: -7, 4: kid})
    tbs = cbor2.dumps(["Signature1", prot, b"", claims])
    r, s = decode_dss_signature(key.sign(tbs, ec.ECDSA(hashes.SHA256())))
    cose = cbor2.dumps(
        cbor2.CBORTag(18, [prot, {}, claims, r.to_bytes(32, "big") + s.to_bytes(32, "big")])
    )
    return "HC1:" + b45encode(zlib.compress(cose, 9)), cert, key


def straightforward(text: str, certs: dict[bytes, list[x509.Certificate]], now: float) -> bool:
    """What one writes with the public libraries: decode, look up, verify, check the dates."""
    if not text.startswith("HC1:"):
        return False
    cose = cbor2.loads(zlib.decompress(base45.b45decode(text[4:])))
    if isinstance(cose, cbor2.CBORTag):
        cose = cose.value
    prot_b, unprot, payload, sig = cose
    prot = cbor2.loads(prot_b)
    kid = prot.get(4) or unprot.get(4)
    tbs = cbor2.dumps(["Signature1", prot_b, b"", payload])
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    for cert in certs.get(kid, []):
        try:
            cert.public_key().verify(der, tbs, ec.ECDSA(hashes.SHA256()))
            break
        except Exception:  # noqa: S112 — try the next certificate with this kid
            continue
    else:
        return False
    claims = cbor2.loads(payload)
    return bool(claims[6] <= now <= claims[4] and claims[-260][1])


def conformance_wall_time(root: Path) -> tuple[float, int] | None:
    """Seconds to verify every DCC vector through the pipeline (no pytest), and the count."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from healthcode.credentials.trustload import load_dcc_schemas
    from tests.conformance.test_dcc_vectors import parse_clock

    folder = root / "vectors" / "dcc"
    if not folder.is_dir():
        return None
    schemas = load_dcc_schemas(root / "vectors" / "dcc-schema")
    options = VerifyOptions(dcc_schemas=schemas)
    files = sorted(folder.rglob("*.json"))
    start = time.perf_counter()
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        ctx = doc.get("TESTCTX") or {}
        trust = TrustStore()
        if ctx.get("CERTIFICATE"):
            cert = x509.load_der_x509_certificate(base64.b64decode(ctx["CERTIFICATE"]))
            trust.dcc[hcert.certificate_kid(cert)] = [cert]
        verify(
            doc["PREFIX"],
            trust=trust,
            at=parse_clock(ctx.get("VALIDATIONCLOCK") or "2021-06-01T00:00:00Z"),
            options=options,
        )
    return time.perf_counter() - start, len(files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="measuring time per round, in seconds"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (best is kept)")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    text, cert, key = build()
    kid = hcert.certificate_kid(cert)
    trust = TrustStore(dcc={kid: [cert]})
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    tbs = b"x" * 300
    der = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    assert verify(text, trust=trust, at=AT).verdict == "valid"
    assert straightforward(text, trust.dcc, AT.timestamp())

    raw = ours = plain = 0.0
    for _ in range(args.rounds):  # interleaved rounds, best of each: robust to a busy machine
        raw = max(
            raw, rate(lambda: public.verify(der, tbs, ec.ECDSA(hashes.SHA256())), args.seconds)
        )
        ours = max(ours, rate(lambda: verify(text, trust=trust, at=AT), args.seconds))
        plain = max(
            plain, rate(lambda: straightforward(text, trust.dcc, AT.timestamp()), args.seconds)
        )
    print(
        f"HC1 text: {len(text)} characters; one core; best of {args.rounds} x {args.seconds:.1f} s"
    )
    print(f"raw ES256 verify (cryptography)      {raw:9.0f} /s")
    print(
        f"healthcode pipeline.verify           {ours:9.0f} /s   ratio to raw {ours / raw:.2f} (target ≥ 0.5)"
    )
    print(f"straightforward base45+zlib+cbor2    {plain:9.0f} /s   ratio to raw {plain / raw:.2f}")
    print(f"healthcode / straightforward          {ours / plain:9.2f}")
    batch_raw, batch_ours = min_of_batches(
        lambda: public.verify(der, tbs, ec.ECDSA(hashes.SHA256())),
        lambda: verify(text, trust=trust, at=AT),
    )
    print(
        f"min of interleaved 100-call batches: raw {batch_raw * 1e6:.1f} µs, "
        f"healthcode {batch_ours * 1e6:.1f} µs, ratio {batch_raw / batch_ours:.2f}"
    )

    shared = Path(os.environ.get("HEALTHCODE_SHARED", "../shared"))
    schema_dir = shared / "vectors" / "dcc-schema"
    if schema_dir.is_dir():
        from healthcode.credentials.trustload import load_dcc_schemas

        options = VerifyOptions(dcc_schemas=load_dcc_schemas(schema_dir))
        with_schema = rate(lambda: verify(text, trust=trust, at=AT, options=options), args.seconds)
        print(
            f"healthcode with JSON schema          {with_schema:9.0f} /s   ratio to raw {with_schema / raw:.2f}"
        )
        timed = conformance_wall_time(shared)
        if timed:
            print(
                f"DCC conformance vectors: {timed[1]} files verified in {timed[0]:.2f} s (pipeline only)"
            )
    else:
        print(f"(no {schema_dir}: schema figure and conformance wall time skipped)")


if __name__ == "__main__":
    main()
