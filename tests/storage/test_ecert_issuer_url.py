"""An SMART Health Card names the public URL of the server that issued it; our verifier
(same database) and our trust list know the key under that URL too, whatever this
process's own ``HEALTHCODE_PUBLIC_URL`` — e.g. a card from ``serve --port 8741`` checked
with ``healthcode verify`` in another shell (SQLite and PostgreSQL)."""

from __future__ import annotations

from healthcode.config import Settings
from healthcode.service import HealthCode
from tests.storage.test_ecerts import holder


def test_cards_from_another_public_url_still_verify(db_url, fixed_clock):
    served = HealthCode(Settings(db=db_url, public_url="http://127.0.0.1:8741"), clock=fixed_clock)
    try:
        hid = holder(served)
        card = served.issue_certificate(hid, kind="vaccination", format="shc")
    finally:
        served.close()
    assert card.issuer["label"] == "http://127.0.0.1:8741/issuers/110000"
    other = HealthCode(Settings(db=db_url), clock=fixed_clock)  # the default URL, port 8000
    try:
        report = other.verify([card.text])
        assert report.verdict == "valid", (report.reasons, report.stages)
        entries = {
            (e["iss"], e["jwk"]["kid"])
            for i in other.trust_list()["payload"]["issuers"]
            for e in i["shc"]
        }
        assert {
            ("http://127.0.0.1:8000/issuers/110000", card.kid),
            ("http://127.0.0.1:8741/issuers/110000", card.kid),
        } <= entries
        # a card naming a URL we never issued under is still unknown
        assert "http://127.0.0.1:9999/issuers/110000" not in other.trust_store().shc
    finally:
        other.close()
