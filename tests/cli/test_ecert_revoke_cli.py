"""``healthcode certificate revoke|list``: JSON shapes, exit codes, and ``verify`` (with the
database's trust and with the exported trust list) refusing a revoked e-certificate."""

from __future__ import annotations

import json

from tests.cli.test_cli import run  # noqa: F401 - the run fixture
from tests.cli.test_ecerts_cli import holder_id  # noqa: F401 - the holder fixture


def _issue(run, holder_id, *args):  # noqa: F811
    r = run("certificate", holder_id, *args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _verify(run, text, *args):  # noqa: F811
    r = run("verify", text, *args, "--json")
    report = json.loads(r.stdout)
    return r.exit_code, report["verdict"], report["reasons"], report["stages"]["revocation"]


def test_revoke_and_list(run, holder_id):  # noqa: F811
    dcc = _issue(run, holder_id, "--kind", "test")
    card = _issue(run, holder_id, "--kind", "test", "--format", "shc")
    assert run("trust", "export", "--out", "before.json").exit_code == 0

    r = run("certificate", "revoke", dcc["uvci"], "--reason", "issued in error", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {
        "id", "holder_id", "issuer", "kind", "format", "uvci", "rid", "kid", "issued_at",
        "expires_at", "revoked_at", "reason", "status",
    }  # fmt: skip
    assert (out["id"], out["status"], out["reason"]) == (dcc["id"], "revoked", "issued in error")
    r = run("certificate", "revoke", card["id"], "--reason", "lost phone")
    assert r.exit_code == 0 and r.stdout.strip() == (
        f"revoked {card['id']} (shc test, rid {card['rid']})"
    )

    assert _verify(run, dcc["text"]) == (1, "invalid", ["revoked"], False)
    assert _verify(run, card["text"]) == (1, "invalid", ["revoked"], False)
    assert run("trust", "export", "--out", "after.json").exit_code == 0
    assert _verify(run, dcc["text"], "--trust-list", "after.json") == (
        1, "invalid", ["revoked"], False,
    )  # fmt: skip
    assert _verify(run, card["text"], "--trust-list", "after.json")[:3] == (
        1,
        "invalid",
        ["revoked"],
    )
    # a trust list exported before the revocation does not know of it
    assert _verify(run, dcc["text"], "--trust-list", "before.json")[:2] == (0, "valid")

    listed = json.loads(run("certificate", "list", holder_id, "--json").stdout)
    assert listed["holder_id"] == holder_id
    assert {c["id"]: c["status"] for c in listed["certificates"]} == {
        dcc["id"]: "revoked",
        card["id"]: "revoked",
    }
    text = run("certificate", "list", holder_id).stdout
    assert dcc["id"] in text and "revoked" in text and "issued in error" in text


def test_exit_codes(run, holder_id):  # noqa: F811
    dcc = _issue(run, holder_id)
    body, _, check = dcc["uvci"].rpartition("#")
    typo = body[:-1] + ("A" if body[-1] != "A" else "B") + "#" + check
    r = run("certificate", "revoke", typo, "--reason", "x", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["code"] == "certificate-id-invalid"
    r = run("certificate", "revoke", dcc["id"], "--reason", " ", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["code"] == "revocation-reason-invalid"
    assert run("certificate", "revoke", dcc["id"]).exit_code == 2  # --reason is required
    r = run("certificate", "revoke", "ZZZZZZZZZZZZZZZZZZZZ", "--reason", "x", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["code"] == "certificate-not-found"
    assert run("certificate", "revoke", dcc["id"], "--reason", "x").exit_code == 0
    r = run("certificate", "revoke", dcc["id"], "--reason", "x", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["code"] == "certificate-already-revoked"
    r = run("certificate", "list", "no-such-holder", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["code"] == "not-found"
    assert "Traceback" not in r.output
    assert "Traceback" not in run("certificate", "revoke", typo, "--reason", "x").output
    # issuing is still `certificate HOLDER_ID`, and also `certificate issue HOLDER_ID`
    assert _issue(run, holder_id, "--kind", "test")["kind"] == "test"
    r = run("certificate", "issue", holder_id, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["format"] == "hc1"
    # --db right after `certificate` goes to the sub-command
    r = run("certificate", "--db", "hc.db", "list", holder_id, "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["certificates"]) == 3
