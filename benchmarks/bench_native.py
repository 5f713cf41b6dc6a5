"""HP1 token: verifications and issues per second on one core, against raw ECDSA.

Run: ``.venv/bin/python benchmarks/bench_native.py [--seconds 3]``

Prints the end-to-end verify rate (Base45 → zlib → COSE → signer → ES256 →
CBOR → claims → expiry) as a ratio to the raw ``cryptography`` P-256 verify
rate of the same key on the same message size (target ≥ 0.6, issue #2), and the
encode (issue) rate.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from healthcode.credentials import cose, native
from healthcode.credentials.keys import generate_private_key, kid_for
from healthcode.credentials.model import Colour, HealthCodeClaims, LatestTest
from healthcode.credentials.pipeline import verify
from healthcode.credentials.trust import TrustedKey, TrustStore


def rates(fns: list[Callable[[], object]], seconds: float, rounds: int = 12) -> list[float]:
    """Calls per second of each function, measured in interleaved rounds so that
    other load on the machine affects every figure alike."""
    counts = [0] * len(fns)
    spent = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            deadline = start + seconds / rounds
            while True:
                for _ in range(20):
                    fn()
                counts[i] += 20
                now = time.perf_counter()
                if now >= deadline:
                    break
            spent[i] += now - start
    return [c / t for c, t in zip(counts, spent, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    key = generate_private_key("ES256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    kid = kid_for(key.public_key())
    now = datetime.now(UTC).replace(microsecond=0)
    claims = HealthCodeClaims(
        issuer="110000", subject="0123456789abcdef", issued_at=now, expires_at=now + timedelta(seconds=180),
        name_masked="张*丰", id_tail="002X", colour=Colour.YELLOW, code_name="北京健康宝",
        reasons=("HC-R-0005",), latest_test=LatestTest("pcr", "negative", now - timedelta(hours=20)), doses=3,
    )  # fmt: skip
    token = native.encode(claims, key=key, alg=cose.ALG_ES256, kid=kid)
    trust = TrustStore(
        native={kid: TrustedKey(kid=kid, issuer="110000", alg="ES256", public_key=key.public_key())}
    )
    assert verify(token, trust=trust, at=now).verdict == "valid"

    msg = native.claims_to_cbor(claims)
    sig = key.sign(msg, ec.ECDSA(hashes.SHA256()))
    pub = key.public_key()
    ecdsa = ec.ECDSA(hashes.SHA256())
    raw_verify, e2e_verify, raw_sign, e2e_issue = rates(
        [
            lambda: pub.verify(sig, msg, ecdsa),
            lambda: verify(token, trust=trust, at=now),
            lambda: key.sign(msg, ecdsa),
            lambda: native.encode(claims, key=key, alg=cose.ALG_ES256, kid=kid),
        ],
        args.seconds,
    )
    print(f"token length                 {len(token)} characters")
    print(f"raw ES256 verify             {raw_verify:10.0f} /s")
    print(
        f"HP1 verify end to end        {e2e_verify:10.0f} /s   ratio {e2e_verify / raw_verify:.2f} (target >= 0.6)"
    )
    print(f"raw ES256 sign               {raw_sign:10.0f} /s")
    print(f"HP1 issue (encode+sign)      {e2e_issue:10.0f} /s   ratio {e2e_issue / raw_sign:.2f}")


if __name__ == "__main__":
    main()
