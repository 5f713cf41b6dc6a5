"""``healthcode certificate``: JSON shape, PNG and PDF files, and our verifier's answer
(trust from the database, and from an exported trust list)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from healthcode.credentials.qr import decode_image
from tests.cli.test_cli import enrol, run  # noqa: F401 - the run fixture


@pytest.fixture
def holder_id(run, tmp_path):  # noqa: F811
    hid = json.loads(enrol(run, name="欧阳娜娜").stdout)["holder_id"]
    sampled = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
    (tmp_path / "v.json").write_text(
        json.dumps([{"holder_id": hid, "dose": 1, "date": "2021-06-01", "product": "Comirnaty"}])
    )
    (tmp_path / "t.json").write_text(
        json.dumps(
            [{"holder_id": hid, "kind": "antigen", "result": "positive", "sampled_at": sampled}]
        )
    )
    assert run("facts", "import", "vaccinations", "v.json").exit_code == 0
    assert run("facts", "import", "tests", "t.json").exit_code == 0
    return hid


def pdf_text(path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (Debian poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("fmt", ["hc1", "shc"])
def test_certificate_json_files_and_verify(run, holder_id, tmp_path, fmt):  # noqa: F811
    r = run("certificate", holder_id, "--kind", "test", "--format", fmt,
            "--png", "c.png", "--pdf", "c.pdf", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"id", "format", "kind", "text", "uvci", "rid", "kid", "expires_at"}
    assert (out["uvci"] is None) == (fmt == "shc") and (out["rid"] is None) == (fmt == "hc1")
    assert out["format"] == fmt and out["kind"] == "test"
    assert out["text"].startswith("HC1:" if fmt == "hc1" else "shc:/")
    assert decode_image((tmp_path / "c.png").read_bytes()) == [out["text"]]
    pdf = (tmp_path / "c.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    text = pdf_text(tmp_path / "c.pdf")
    for expected in (
        "欧阳娜娜",
        "OUYANG NANA",
        "新冠病毒检测证明",
        "阳性 Positive",
        out["kid"],
        "DEMO",
    ):
        assert expected in text, expected

    v = run("verify", out["text"], "--json")
    report = json.loads(v.stdout)
    assert v.exit_code == 0 and report["verdict"] == "valid", report
    assert report["type"] == "test"
    assert "demo" in report["warnings"], report  # signed by a DEMO key of this database
    # a verifier holding only the exported signed trust list accepts it too, still as DEMO
    assert run("trust", "export", "--out", "trust.json").exit_code == 0
    v = run("verify", out["text"], "--trust-list", "trust.json", "--json")
    listed = json.loads(v.stdout)
    assert listed["verdict"] == "valid", v.stdout
    assert "demo" in listed["warnings"], listed


def test_vaccination_pdf_names_the_product(run, holder_id, tmp_path):  # noqa: F811
    r = run("certificate", holder_id, "--pdf", "v.pdf", "--json")
    assert r.exit_code == 0, r.output
    text = pdf_text(tmp_path / "v.pdf")
    uvci = json.loads(r.stdout)["uvci"]
    assert "Comirnaty (BioNTech/Pfizer)" in text and uvci in text  # with its check character
    assert "1/2" in text.replace(" ", "")  # dose 1 of a 2-dose series


def test_no_record_exits_1_and_bad_kind_exits_2(run):  # noqa: F811
    hid = json.loads(enrol(run).stdout)["holder_id"]
    r = run("certificate", hid, "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["code"] == "no-records"
    assert run("certificate", hid, "--kind", "recovery").exit_code == 2


def test_keys_create_e_certificate_purposes(run):  # noqa: F811
    r = run("keys", "create", "310000", "--purpose", "dcc")
    assert r.exit_code == 0, r.output
    kid = r.stdout.strip()
    keys = json.loads(run("keys", "list", "--json").stdout)["keys"]
    mine = {(k["purpose"], k["demo"]) for k in keys if k["issuer"] == "310000"}
    # local mode: DEMO, like every key under the development master key (tests/cli/test_keys_cli.py)
    assert ("dcc", True) in mine and ("dcc-csca", True) in mine
    assert any(k["kid"] == kid and k["purpose"] == "dcc" for k in keys)
    r = run("keys", "create", "310000", "--purpose", "shc")
    assert r.exit_code == 0 and len(r.stdout.strip()) == 43  # RFC 7638 thumbprint
    assert run("keys", "create", "310000", "--purpose", "shc", "--alg", "EdDSA").exit_code == 2
