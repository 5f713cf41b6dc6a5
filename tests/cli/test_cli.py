"""The command-line contracts of issue 2 (shapes, exit codes), through click's runner."""

import json

import pytest
from click.testing import CliRunner

from healthcode.cli.main import cli
from healthcode.credentials.qr import encode_png
from healthcode.holders.identity import gb11643_check_char

ID = "11010519491231002X"


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEALTHCODE_DB", raising=False)
    runner = CliRunner()

    def invoke(*args, db="hc.db"):
        result = runner.invoke(cli, [*args, "--db", db], obj={}, catch_exceptions=False)
        return result

    return invoke


def enrol(run, **kw):
    args = ["holder", "enrol", "--name", kw.get("name", "张三丰"), "--id-number", kw.get("id", ID),
            "--phone", kw.get("phone", "13912345678"), "--region", kw.get("region", "110000"), "--json"]  # fmt: skip
    return run(*args)


def test_enrol_json_shape(run):
    r = enrol(run)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"holder_id", "region", "name_masked", "id_masked"}
    assert (
        out["name_masked"] == "张*丰"
        and out["id_masked"] == "1101**********002X"
        and out["region"] == "110000"
    )
    assert "张*丰" in r.stdout  # non-ASCII unescaped


def test_refused_record_exits_1_with_error_json(run):
    r = enrol(run, id="11010519491231002Y")
    assert r.exit_code == 1
    assert json.loads(r.stdout) == {
        "ok": False,
        "status": 422,
        "code": "invalid-id-number",
        "message": json.loads(r.stdout)["message"],
    }


def test_bad_option_exits_2(run):
    assert run("holder", "enrol", "--name", "x").exit_code == 2
    assert (
        run(
            "holder",
            "enrol",
            "--name",
            "a",
            "--id-number",
            ID,
            "--phone",
            "1",
            "--region",
            "1",
            "--id-type",
            "bogus",
        ).exit_code
        == 2
    )


def test_code_then_verify_text_file_and_image(run, tmp_path):
    hid = json.loads(enrol(run).stdout)["holder_id"]
    r = run("code", hid, "--json")
    assert r.exit_code == 0
    code = json.loads(r.stdout)
    assert set(code) == {"token", "expires_at", "colour", "status_code"}
    assert code["token"].startswith("HP1:") and (code["colour"], code["status_code"]) == (
        "green",
        "00",
    )
    v = run("verify", code["token"], "--json")
    assert v.exit_code == 0
    rep = json.loads(v.stdout)
    assert (
        rep["verdict"] == "valid" and rep["format"] == "native" and rep["stages"]["picture"] is None
    )
    assert set(rep) >= {
        "format",
        "verdict",
        "colour",
        "status_code",
        "stages",
        "reasons",
        "warnings",
        "holder",
        "type",
    }
    (tmp_path / "code.txt").write_text(code["token"] + "\n", encoding="utf-8")
    assert json.loads(run("verify", "code.txt", "--json").stdout)["verdict"] == "valid"
    (tmp_path / "code.png").write_bytes(encode_png(code["token"]))
    img = json.loads(run("verify", "code.png", "--json").stdout)
    assert img["verdict"] == "valid" and img["stages"]["picture"] is True


def test_verify_garbage_is_a_report_exit_1(run, tmp_path):
    r = run("verify", "hello world", "--json")
    assert r.exit_code == 1
    rep = json.loads(r.stdout)
    assert rep["format"] == "unknown" and rep["stages"]["prefix"] is False and rep["colour"] is None
    (tmp_path / "junk.bin").write_bytes(bytes(range(256)) * 10)
    assert json.loads(run("verify", "junk.bin", "--json").stdout)["format"] == "unknown"
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    rep = json.loads(run("verify", "broken.png", "--json").stdout)
    assert rep["stages"]["picture"] is False and rep["reasons"] == ["picture-unreadable"]


def test_verify_with_exported_trust_list_and_expired_at(run, tmp_path):
    hid = json.loads(enrol(run).stdout)["holder_id"]
    token = json.loads(run("code", hid, "--json").stdout)["token"]
    assert run("trust", "export", "--out", "trust.json").exit_code == 0
    assert run("trust", "anchor", "--out", "anchor.pem").exit_code == 0
    # another verifier (its own database) pins our national anchor and accepts the list
    ok = run(
        "verify",
        token,
        "--trust-list",
        "trust.json",
        "--trust-anchor",
        "anchor.pem",
        "--json",
        db="other.db",
    )
    assert json.loads(ok.stdout)["verdict"] == "valid"
    # without the pin its own anchor does not sign our list: refused, exit 2
    refused = run("verify", token, "--trust-list", "trust.json", "--json", db="other.db")
    assert refused.exit_code == 2 and json.loads(refused.stdout)["code"] == "trust-list-invalid"
    late = run("verify", token, "--at", "2099-01-01T00:00:00Z", "--json")
    assert late.exit_code == 1 and "expired" in json.loads(late.stdout)["reasons"]


def test_verify_unreadable_trust_file_exits_2(run):
    r = run("verify", "HP1:XX", "--trust-list", "missing.json", "--json")
    assert r.exit_code == 2


def test_facts_import_per_row_report_and_nothing_stored(run, tmp_path):
    hid = json.loads(enrol(run).stdout)["holder_id"]
    (tmp_path / "t.csv").write_text(
        "holder_id,kind,result,sampled_at\n"
        f"{hid},pcr,negative,2022-11-19T08:00:00+08:00\n"
        f"{hid},pcr,negative,yesterday\n",
        encoding="utf-8",
    )
    r = run("facts", "import", "tests", "t.csv", "--json")
    assert r.exit_code == 1
    body = json.loads(r.stdout)
    assert body["code"] == "import-rejected" and body["details"]["errors"][0]["line"] == 3
    (tmp_path / "ok.csv").write_text(
        f"id_number,kind,result,sampled_at\n{ID},pcr,negative,2022-11-19T08:00:00+08:00\n",
        encoding="utf-8",
    )
    good = run("facts", "import", "tests", "ok.csv", "--json")
    assert good.exit_code == 0 and json.loads(good.stdout)["imported"] == 1
    assert run("facts", "import", "tests", "nope.csv", "--json").exit_code == 2


def test_risk_areas_list_contract(run, tmp_path):
    import gzip

    (tmp_path / "ep.csv.gz").write_bytes(
        gzip.compress(
            "level,province,city,county,community,first_listed,last_listed,first_absent\n"
            "high,北京市,朝阳区,酒仙桥街道,二街坊,2022-11-15T11:00+08:00,2022-11-19T15:00+08:00,2022-11-19T17:00+08:00\n".encode()
        )
    )
    assert run("risk-areas", "import", "ep.csv.gz").exit_code == 0
    r = run(
        "risk-areas",
        "list",
        "--at",
        "2022-11-18T00:00:00+08:00",
        "--city",
        "北京市",
        "--level",
        "high",
        "--json",
    )
    out = json.loads(r.stdout)
    assert out["count"] == 1 and out["at"] == "2022-11-18T00:00:00+08:00"
    assert out["areas"][0] == {
        "level": "high", "province": "北京市", "city": "朝阳区", "county": "酒仙桥街道", "community": "二街坊",
        "first_listed": "2022-11-15T11:00:00+08:00", "first_absent": "2022-11-19T17:00:00+08:00",
    }  # fmt: skip
    assert run("risk-areas", "list", "--at", "not-a-time", "--json").exit_code == 2


def test_missing_shared_file_names_the_variable(run, monkeypatch):
    monkeypatch.setenv("HEALTHCODE_SHARED", "/nonexistent-shared")
    r = run("risk-areas", "import")
    assert r.exit_code == 2 and "HEALTHCODE_SHARED" in r.stderr


def test_audit_verify_exit_codes(run):
    enrol(run)
    assert run("audit", "verify").exit_code == 0
    import sqlite3

    con = sqlite3.connect("hc.db")
    con.execute("update audit_log set actor = 'someone else' where seq = 2")
    con.commit()
    con.close()
    r = run("audit", "verify", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["first_bad"] == 2


def test_db_from_environment(run, monkeypatch, tmp_path):
    monkeypatch.setenv("HEALTHCODE_DB", str(tmp_path / "env.db"))
    r = CliRunner().invoke(
        cli,
        [
            "holder",
            "enrol",
            "--name",
            "李四",
            "--id-number",
            "11010519800101099" + gb11643_check_char("11010519800101099"),
            "--phone",
            "13900000000",
            "--region",
            "110105",
            "--json",
        ],
        obj={},
    )
    assert r.exit_code == 0 and (tmp_path / "env.db").exists()
    assert json.loads(r.stdout)["region"] == "110105"


def test_verify_smart_health_card_file_and_chunks(run, shared):
    folder = shared("vectors", "shc", "spec-examples")
    keys = f"https://spec.smarthealth.cards/examples/issuer={folder / 'issuer' / '.well-known' / 'jwks.json'}"
    r = run(
        "verify",
        str(folder / "example-00-e-file.smart-health-card"),
        "--issuer-keys",
        keys,
        "--at",
        "2023-07-01T00:00:00Z",
        "--json",
    )
    rep = json.loads(r.stdout)
    assert r.exit_code == 0 and rep["format"] == "shc" and rep["verdict"] == "valid"
    assert rep["holder"]["family_name"] == "Anyperson"
    chunks = [
        str(folder / f"example-02-f-qr-code-numeric-value-{i}.txt") for i in (2, 0, 1)
    ]  # any order
    r2 = run("verify", *chunks, "--issuer-keys", keys, "--at", "2023-07-01T00:00:00Z", "--json")
    assert r2.exit_code == 0 and json.loads(r2.stdout)["verdict"] == "valid"
    r3 = run(
        "verify",
        chunks[0],
        chunks[1],
        "--issuer-keys",
        keys,
        "--at",
        "2023-07-01T00:00:00Z",
        "--json",
    )
    assert r3.exit_code == 1  # a chunk is missing


def test_two_codes_are_not_one_verdict(run):
    hid = json.loads(enrol(run).stdout)["holder_id"]
    token = json.loads(run("code", hid, "--json").stdout)["token"]
    r = run("verify", token, "garbage", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["reasons"] == ["several-codes"]


def test_holder_regions_must_be_real_regions(run):
    for region in ("100000", "11٠١٠٥", "990000"):
        r = enrol(run, region=region)
        assert r.exit_code == 1 and json.loads(r.stdout)["code"] == "invalid-region", region


def test_unopenable_database_is_exit_2(run):
    r = run(
        "holder",
        "enrol",
        "--name",
        "张三",
        "--id-number",
        ID,
        "--phone",
        "13912345678",
        "--region",
        "110000",
        "--json",
        db="/nonexistent-dir/x.db",
    )
    assert r.exit_code == 2 and json.loads(r.stdout)["code"] == "config-invalid"


def test_no_applicable_business_rule_is_not_a_pass(run, shared, tmp_path):
    """An unknown destination selects no rule: the rules stage is null with a warning."""
    vector = json.loads(
        shared("vectors", "dcc", "DE", "2DCode", "raw", "2.json").read_text(encoding="utf-8")
    )
    (tmp_path / "dsc.b64").write_text(vector["TESTCTX"]["CERTIFICATE"], encoding="ascii")
    rules = "healthcode/rules/data/dcc-example-rules.json"
    import pathlib

    rules_path = str(pathlib.Path(__file__).resolve().parents[2] / rules)
    clock = vector["TESTCTX"]["VALIDATIONCLOCK"]
    common = [
        vector["PREFIX"],
        "--trust-cert",
        str(tmp_path / "dsc.b64"),
        "--at",
        clock,
        "--rules",
        rules_path,
        "--json",
    ]
    zz = json.loads(run("verify", *common, "--country", "ZZ").stdout)
    assert zz["stages"]["rules"] is None and "no-applicable-rules" in zz["warnings"]
