"""``healthcode serve``'s public URL: without ``HEALTHCODE_PUBLIC_URL`` the URL it serves,
so SMART Health Cards name an issuer that answers (the new-user trial served on
``--port 8741`` and got ``iss`` on port 8000)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from healthcode.cli.main import cli
from healthcode.config import Settings, load_settings, served_url
from tests.web.helpers import enrol


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8741, "http://127.0.0.1:8741"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),  # noqa: S104 - a wildcard bind, named
        ("", 9000, "http://127.0.0.1:9000"),
        ("::", 8000, "http://[::1]:8000"),
        ("::1", 8000, "http://[::1]:8000"),
        ("localhost", 80, "http://localhost"),
        ("health.example.org", 8080, "http://health.example.org:8080"),
    ],
)
def test_served_url(host, port, url):
    assert served_url(host, port) == url


def test_served_at_keeps_a_configured_url():
    assert Settings().served_at("0.0.0.0", 8741).public_url == "http://127.0.0.1:8741"  # noqa: S104
    configured = load_settings({"HEALTHCODE_PUBLIC_URL": "https://hc.example.org/"})
    assert configured.public_url_set and configured.public_url == "https://hc.example.org"
    assert configured.served_at("127.0.0.1", 8741).public_url == "https://hc.example.org"
    assert not load_settings({}).public_url_set


@pytest.fixture
def served(tmp_path, monkeypatch):
    """Run ``healthcode serve ARGS`` with uvicorn replaced: returns (app, output)."""
    import uvicorn

    monkeypatch.chdir(tmp_path)
    for var in ("HEALTHCODE_DB", "HEALTHCODE_PUBLIC_URL"):
        monkeypatch.delenv(var, raising=False)
    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append((app, kw)))

    def run(*args):
        result = CliRunner().invoke(cli, ["serve", *args, "--db", "hc.db"], obj={})
        assert result.exit_code == 0, result.output
        ((app, kw),) = started
        return app, kw, result.output

    return run


def test_serve_issues_cards_under_the_url_it_serves(served):
    app, kw, output = served("--port", "8741")
    assert kw["port"] == 8741
    assert "public URL http://127.0.0.1:8741" in output
    service = app.state.hc.service
    assert service.settings.public_url == "http://127.0.0.1:8741"
    h = enrol(service)
    service.import_facts(
        "vaccinations",
        [{"holder_id": h["holder_id"], "dose": 1, "date": "2022-03-01", "product": "克尔来福"}],
        source="test",
    )
    card = service.issue_certificate(h["holder_id"], kind="vaccination", format="shc")
    assert card.issuer["label"] == "http://127.0.0.1:8741/issuers/110000"
    report = service.verify([card.text])
    assert report.verdict == "valid" and report.details["iss"] == card.issuer["label"]
    service.close()


def test_serve_keeps_a_configured_public_url(served, monkeypatch):
    monkeypatch.setenv("HEALTHCODE_PUBLIC_URL", "https://hc.example.org")
    app, _kw, _output = served("--host", "0.0.0.0", "--port", "8741")  # noqa: S104
    assert app.state.hc.service.settings.public_url == "https://hc.example.org"
    app.state.hc.service.close()
