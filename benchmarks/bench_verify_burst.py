"""``POST /verify`` under bursts of hostile input: memory, JPEG scan bombs, event loop.

Run: ``.venv/bin/python benchmarks/bench_verify_burst.py [--uploads 100] [--texts 60] [--text-file F]``

Starts ``healthcode serve --workers 1`` on a free 127.0.0.1 port with a fresh SQLite
database and prints:

- the server's RSS before, at its peak during, and 3 s after ``--uploads`` concurrent
  uploads of a 124 KB PNG of 4000 × 4000 16-bit RGBA pixels (blank: no QR);
- the time to answer a progressive JPEG of 4000 × 4000 pixels whose last refinement
  scan is repeated to 400 KB (a "scan bomb"), and the latency of an ordinary QR PNG
  sent while two such bombs are being answered;
- the latency of ``GET /healthz`` while ``--texts`` concurrent ``POST /verify
  {"text": …}`` run (the text of ``--text-file``, else a 888-character ``HC1:`` of
  base45 noise).

Traffic goes to the loopback address only.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image

from healthcode.credentials.qr import encode_png


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def post(url: str, body: bytes, ctype: str, timeout: float = 600) -> float:
    req = urllib.request.Request(url, data=body, headers={"Content-Type": ctype})  # noqa: S310
    start = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - loopback
        r.read()
    return time.perf_counter() - start


def upload(url: str, data: bytes) -> float:
    boundary = "hcbenchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return post(url, body, f"multipart/form-data; boundary={boundary}")


def png16() -> bytes:
    """A white 4000 × 4000 PNG of 16-bit RGBA pixels (~124 KB; 128 MB of raw rows)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )  # fmt: skip

    row = b"\x00" + b"\xff" * (4000 * 8)
    ihdr = struct.pack(">IIBBBBB", 4000, 4000, 16, 6, 0, 0, 0)
    idat = zlib.compress(row * 4000, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def scan_bomb(size: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4000, 4000), 255).save(buf, "JPEG", progressive=True, quality=90)
    data = buf.getvalue()
    i, segs = 2, []
    while data[i + 1] != 0xD9:
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        j = i + 2 + length
        if marker == 0xDA:
            while not (data[j] == 0xFF and data[j + 1] not in (0x00, *range(0xD0, 0xD8))):
                j += 1
        segs.append((marker, data[i:j]))
        i = j
    last = [body for marker, body in segs if marker == 0xDA][-1]
    extra = max(0, (size - len(data)) // len(last))
    return b"\xff\xd8" + b"".join(b for _, b in segs) + last * extra + b"\xff\xd9"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=100)
    ap.add_argument("--texts", type=int, default=60)
    ap.add_argument("--text-file")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hc-burst-"))
    env = dict(os.environ, HEALTHCODE_DB=str(tmp / "bench.db"))
    exe = str(Path(sys.executable).with_name("healthcode"))
    port = free_port()
    server = subprocess.Popen(
        [exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)  # noqa: S310 - loopback
                break
            except OSError:
                time.sleep(0.2)
        pid = server.pid
        print(f"RSS at start            {rss_mb(pid):7.0f} MB")

        png = png16()
        peak, done = [0.0], threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], rss_mb(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        with ThreadPoolExecutor(args.uploads) as pool:
            list(pool.map(lambda _: upload(base + "/verify", png), range(args.uploads)))
        took = time.perf_counter() - start
        done.set()
        sampler.join()
        time.sleep(3)
        print(
            f"{args.uploads} uploads of a {len(png) // 1024} KB 4000x4000 16-bit RGBA PNG: "
            f"{took:.1f} s; RSS peak {peak[0]:.0f} MB, 3 s after {rss_mb(pid):.0f} MB"
        )

        bomb = scan_bomb(400_000)
        print(
            f"JPEG scan bomb ({len(bomb) // 1000} KB): answered in {upload(base + '/verify', bomb):.2f} s"
        )
        qr_png = encode_png("HC1:BENCH")
        with ThreadPoolExecutor(2) as pool:
            bombs = [pool.submit(upload, base + "/verify", bomb) for _ in range(2)]
            time.sleep(0.05)
            normal = upload(base + "/verify", qr_png)
            [b.result() for b in bombs]
        print(f"QR PNG while 2 bombs are answered: {normal:.2f} s")

        if args.text_file:
            text = Path(args.text_file).read_text(encoding="utf-8").strip()
        else:
            text = "HC1:" + "6BF" * 294
        body = json.dumps({"text": text}).encode()
        with ThreadPoolExecutor(args.texts) as pool:
            futures = [
                pool.submit(post, base + "/verify", body, "application/json")
                for _ in range(args.texts)
            ]
            time.sleep(0.1)
            start = time.perf_counter()
            urllib.request.urlopen(base + "/healthz", timeout=600).read()  # noqa: S310
            health = time.perf_counter() - start
            texts = [f.result() for f in futures]
        print(
            f"GET /healthz during {args.texts} concurrent text verifications: {health * 1000:.0f} ms"
            f" (texts: slowest {max(texts):.2f} s)"
        )
        print(f"RSS at end              {rss_mb(pid):7.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
