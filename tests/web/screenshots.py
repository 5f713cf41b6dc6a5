"""Screenshots of the holder and verifier pages for the docs (``docs/img/``).

Run from the repository root::

    .venv/bin/python -m tests.web.screenshots [OUT_DIR]

It serves the app on a temporary database, enrols a DEMO holder with a yellow
status (a secondary-contact listing), signs in through the page with the code
from the development outbox, and photographs the pages at 390×844 (a phone).
Needs Debian's ``chromium`` and a CJK font (``fonts-noto-cjk``).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import sync_playwright

from healthcode.credentials.qr import encode_png
from healthcode.web.app import create_app
from tests.support.browser import launch_chromium
from tests.web.conftest import make_settings, serve
from tests.web.helpers import enrol, latest_otp

VIEWPORT = {"width": 390, "height": 844}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_settings(Path(tmp)))
        svc = app.state.hc.service
        h = enrol(svc, name="张小三", demo=True)
        now = svc.now()
        hid = h["holder_id"]
        svc.import_facts(
            "contacts",
            [
                {
                    "holder_id": hid,
                    "kind": "secondary",
                    "listed_at": (now - timedelta(days=1)).isoformat(),
                }
            ],
            source="screenshot",
        )
        svc.import_facts(
            "tests",
            [
                {
                    "holder_id": hid,
                    "kind": "pcr",
                    "result": "negative",
                    "sampled_at": (now - timedelta(hours=30)).isoformat(),
                }
            ],
            source="screenshot",
        )
        svc.import_facts(
            "vaccinations",
            [{"holder_id": hid, "dose": 3, "date": "2022-01-10"}],
            source="screenshot",
        )
        with serve(app) as url, sync_playwright() as pw:
            browser = launch_chromium(pw)
            ctx = browser.new_context(viewport=VIEWPORT, device_scale_factor=2)
            page = ctx.new_page()
            page.goto(f"{url}/holder/sign-in")
            page.fill("#phone", h["phone"])
            page.click("button[type=submit]")
            page.wait_for_selector("#code")
            page.fill("#code", latest_otp(svc, h["phone"]))
            page.click("form[action='/holder/sign-in/verify'] button[type=submit]")
            page.wait_for_selector("canvas#qr[data-state=ready]")
            page.screenshot(path=str(out / "holder-page.png"), full_page=True)
            token = page.get_attribute("canvas#qr", "data-token")
            assert token

            page = ctx.new_page()
            page.goto(f"{url}/verifier")
            page.set_input_files(
                "#image",
                files=[{"name": "code.png", "mimeType": "image/png", "buffer": encode_png(token)}],
            )
            page.wait_for_selector("#result:not([hidden])")
            page.screenshot(path=str(out / "verifier-page.png"), full_page=True)
            browser.close()
        svc.close()
    print(f"wrote {out / 'holder-page.png'} and {out / 'verifier-page.png'}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/img"))
