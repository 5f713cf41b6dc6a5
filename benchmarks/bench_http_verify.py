"""``POST /verify`` throughput and latency on loopback (issue 2).

Run: ``.venv/bin/python benchmarks/bench_http_verify.py [--seconds 15] [--connections 16] [--workers 2]``

Starts ``healthcode serve --workers N`` on a free 127.0.0.1 port with a fresh
SQLite database, issues one real token, and drives ``POST /verify`` with
``wrk`` (Debian package ``wrk``; the script says so if it is missing) for a
bounded time. Prints requests/s and p50/p99 latency, and, as a baseline measured
in the same run, ``GET /healthz`` on the same server. Traffic goes to the
loopback address only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    out = subprocess.run(
        [*cmd, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(non2xx.group(1)) if non2xx else 0.0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="hc-http-"))
    env = dict(os.environ, HEALTHCODE_DB=str(tmp / "bench.db"))
    exe = str(Path(sys.executable).with_name("healthcode"))
    hid = json.loads(
        subprocess.run(
            [exe, "holder", "enrol", "--name", "张三丰", "--id-number", "11010519491231002X",
             "--phone", "13912345678", "--region", "110000", "--json"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout
    )["holder_id"]  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        # a token that stays valid for the whole run
        env_ttl = dict(env, HEALTHCODE_CODE_TTL="3600")
        token = json.loads(
            subprocess.run(
                [exe, "code", hid, "--json"],
                env=env_ttl,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )["token"]
        body = json.dumps({"text": token})
        lua = tmp / "post.lua"
        lua.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(body)}\n",
            encoding="utf-8",
        )
        req = urllib.request.Request(  # noqa: S310 - loopback http only
            base + "/verify", data=body.encode(), headers={"Content-Type": "application/json"}
        )
        assert json.loads(urllib.request.urlopen(req).read())["verdict"] == "valid"  # noqa: S310
        health = wrk(base + "/healthz", args.seconds, args.connections, None)
        ver = wrk(base + "/verify", args.seconds, args.connections, lua)
        print(
            f"server: {args.workers} workers, SQLite; wrk: 2 threads, {args.connections} connections, {args.seconds} s each"
        )
        print(
            f"GET /healthz   {health['rps']:8.0f} req/s   p50 {health['p50']:6.1f} ms   p99 {health['p99']:6.1f} ms"
        )
        print(
            f"POST /verify   {ver['rps']:8.0f} req/s   p50 {ver['p50']:6.1f} ms   p99 {ver['p99']:6.1f} ms"
            f"   ({ver['rps'] / health['rps']:.2f} of /healthz; non-2xx: {ver['errors']:.0f})"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
