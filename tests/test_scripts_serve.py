"""scripts/serve labels its own messages (it borrows scripts/test's set-up functions)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_serve_messages_are_labelled_scripts_serve(tmp_path):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name in ("serve", "test"):
        shutil.copy2(ROOT / "scripts" / name, scripts / name)
    # no .venv in the copy and no such Python: ensure_venv says so, then serve stops
    env = {**os.environ, "PYTHON": "no-such-python-for-healthcode"}
    r = subprocess.run(
        ["bash", str(scripts / "serve")], env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert r.returncode != 0
    assert r.stderr.startswith("[scripts/serve] no no-such-python-for-healthcode on PATH"), r.stderr
    assert "[scripts/test]" not in r.stderr
