"""Re-evaluation at scale (issue 2): a risk-list change with N holders, then everyone.

Run: ``.venv/bin/python benchmarks/bench_reevaluate.py [--holders 1000000] [--affected 0.05] [--db PATH]``

Builds a SQLite database of N holders (sealed personal data, one sealed test
result each; a share ``--affected`` also declared a stay at one of 2,000
places), then

1. imports a risk-area list that newly lists those places — only holders found
   through the place index are re-evaluated (target ≤ 10 s for 1M / 5 %);
2. re-evaluates all N holders (target ≤ 120 s for 1M on 2 cores), every status
   change audited, batch reads audited once per batch;

printing wall time, holders per second and peak resident memory of each phase
(VmHWM, reset before each phase).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import secrets
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from healthcode.clock import FixedClock
from healthcode.config import Settings
from healthcode.holders.service import HolderKeys
from healthcode.protect import new_data_key, seal
from healthcode.riskareas.places import place_key
from healthcode.service import HealthCode
from healthcode.storage.models import Fact, Holder, PlaceVisit, Status

NOW = datetime(2022, 11, 20, 4, 0, tzinfo=UTC)


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def build(svc: HealthCode, n: int, share: float, places: list[tuple[str, str, str, str]]) -> None:
    keys: HolderKeys = svc.keys
    stay_start = NOW - timedelta(days=3)
    stay_end = NOW - timedelta(days=2)
    step = 10_000
    t0 = time.perf_counter()
    fact_id = 0
    for base in range(0, n, step):
        holders, facts, visits, statuses = [], [], [], []
        for i in range(base, min(base + step, n)):
            hid = f"b{i:019d}"
            dek = new_data_key()
            aad = hid.encode()
            pii = {"name": "测试", "id_type": "resident-id", "id_number": f"{i:018d}", "nationality": "CN",
                   "phone": f"170{i:08d}", "birth_date": None}  # fmt: skip
            holders.append(
                {"id": hid, "region": "110000", "pseudonym": secrets.token_hex(8), "data_key": seal(keys.wrap, dek, aad=aad),
                 "pii": seal(dek, json.dumps(pii).encode(), aad=aad), "id_index": keys.id_key("resident-id", pii["id_number"]),
                 "phone_index": keys.phone_key(pii["phone"]), "demo": False, "created_at": NOW}
            )  # fmt: skip
            fact_id += 1
            test = {
                "kind": "pcr",
                "result": "negative",
                "sampled_at": (NOW - timedelta(hours=30)).isoformat(),
                "lab": "",
            }
            facts.append(
                {"id": fact_id, "holder_id": hid, "kind": "tests", "observed_at": NOW - timedelta(hours=30),
                 "data": seal(dek, json.dumps(test).encode(), aad=aad), "import_id": None, "created_at": NOW}
            )  # fmt: skip
            if (i * 7919) % 10_000 < share * 10_000:
                p = places[i % len(places)]
                fact_id += 1
                decl = {"declared_at": NOW.isoformat(), "symptoms": [], "province": p[0], "city": p[1], "county": p[2],
                        "community": p[3], "start": stay_start.isoformat(), "end": stay_end.isoformat()}  # fmt: skip
                facts.append(
                    {"id": fact_id, "holder_id": hid, "kind": "declarations", "observed_at": NOW,
                     "data": seal(dek, json.dumps(decl, ensure_ascii=False).encode(), aad=aad), "import_id": None,
                     "created_at": NOW}
                )  # fmt: skip
                visits.append(
                    {"holder_id": hid, "fact_id": fact_id, "place_key": place_key(keys.place_index, *p),
                     "start_at": stay_start, "end_at": stay_end}
                )  # fmt: skip
            statuses.append(
                {"holder_id": hid, "colour": "green", "status_code": "00", "reasons": [], "clears_at": None,
                 "evaluated_at": NOW, "as_of": NOW, "ruleset": svc.ruleset.ref, "current": True, "trigger": "enrol"}
            )  # fmt: skip
        with svc.db.session() as s:
            s.execute(insert(Holder), holders)
            s.execute(insert(Fact), facts)
            if visits:
                s.execute(insert(PlaceVisit), visits)
            s.execute(insert(Status), statuses)
        done = min(base + step, n)
        print(
            f"\r  built {done:,}/{n:,} holders ({time.perf_counter() - t0:.0f} s)",
            end="",
            flush=True,
        )
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--holders", type=int, default=1_000_000)
    ap.add_argument("--affected", type=float, default=0.05)
    ap.add_argument("--db", default=None, help="SQLite path (default: a temporary file)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hc-bench-")
    db = args.db or os.path.join(tmp, "bench.db")
    svc = HealthCode(Settings(db=db), clock=FixedClock(NOW))
    places = [("北京市", "朝阳区", f"街道{k // 20}", f"小区{k}") for k in range(2000)]
    print(
        f"building {args.holders:,} holders, {args.affected:.0%} with a stay at one of {len(places):,} places …"
    )
    build(svc, args.holders, args.affected, places)

    episodes = Path(tmp, "episodes.csv.gz")
    rows = ["level,province,city,county,community,first_listed,last_listed,first_absent"]
    rows += [
        f"high,{p[0]},{p[1]},{p[2]},{p[3]},2022-11-15T11:00+08:00,2022-11-25T11:00+08:00,"
        for p in places
    ]
    episodes.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))

    reset_peak()
    t = time.perf_counter()
    out = svc.import_risk_areas(episodes)
    dt = time.perf_counter() - t
    print(
        f"risk-list change: {out['holders_reevaluated']:,} affected holders re-evaluated "
        f"({out['status_changes']:,} changes) in {dt:.1f} s — {out['holders_reevaluated'] / dt:,.0f}/s; "
        f"peak RSS {peak_mb():,.0f} MB (target ≤ 10 s)"
    )
    reset_peak()
    t = time.perf_counter()
    full = svc.reevaluate_all()
    dt = time.perf_counter() - t
    print(
        f"full re-evaluation: {full['evaluated']:,} holders ({full['changed']:,} changes) in {dt:.1f} s — "
        f"{full['evaluated'] / dt:,.0f}/s; peak RSS {peak_mb():,.0f} MB (target ≤ 120 s)"
    )
    svc.close()


if __name__ == "__main__":
    main()
