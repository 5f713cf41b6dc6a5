"""Base45 decode/encode rates: ours vs the ``base45`` PyPI package.

Run on demand (not a test)::

    python benchmarks/bench_base45.py

Uses a 600-character token (400 random bytes, about the size of an EU DCC
``HC1:`` payload) and prints operations per second and the speed-up.
"""

from __future__ import annotations

import os
import timeit
from collections.abc import Callable
from typing import Any

import base45 as reference

from healthcode.credentials.base45 import b45decode, b45encode


def _rate(func: Callable[[Any], object], arg: Any) -> float:
    """Calls per second of ``func(arg)``, best of 5 runs."""
    timer = timeit.Timer(lambda: func(arg))
    number, _ = timer.autorange()
    best = min(timer.repeat(repeat=5, number=number))
    return number / best


def main() -> None:
    data = os.urandom(400)
    token = b45encode(data)
    assert len(token) == 600
    assert reference.b45decode(token) == b45decode(token) == data
    assert reference.b45encode(data).decode("ascii") == token

    print(f"Base45, {len(token)}-character token ({len(data)} bytes)")
    for label, ours, theirs, arg in (
        ("decode", b45decode, reference.b45decode, token),
        ("encode", b45encode, reference.b45encode, data),
    ):
        ours_rate = _rate(ours, arg)
        theirs_rate = _rate(theirs, arg)
        print(
            f"  {label}: healthcode {ours_rate:>10,.0f}/s ({1e6 / ours_rate:6.1f} µs)"
            f" | base45 package {theirs_rate:>9,.0f}/s ({1e6 / theirs_rate:6.1f} µs)"
            f" | ×{ours_rate / theirs_rate:.1f}"
        )


if __name__ == "__main__":
    main()
