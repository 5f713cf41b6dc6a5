"""Browser fixtures: Debian's ``chromium`` driven by Playwright's sync API.

Never a Playwright browser download: the system binary is launched through
``executable_path``. Missing chromium skips the test (fails in CI, ``CI=true``);
``scripts/test`` installs it with apt where it can.

Playwright's sync API cannot run inside a running asyncio loop: use these
fixtures from plain (sync) tests.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

# As root chromium needs --no-sandbox; the rest keeps it from calling out to a
# network it cannot reach (those calls fail or hang on the closed network here).
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _unavailable(msg: str) -> NoReturn:
    # Same rule as tests/support/shared.py: fail in CI, skip elsewhere.
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(msg)
    pytest.skip(msg)


def chromium_path() -> str:
    """Path of Debian's chromium, or skip (fail in CI) when it is not installed."""
    path = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None
    )
    if path is None:
        _unavailable(
            "chromium not found: run the tests with scripts/test (installs it as root) "
            "or `apt-get install chromium`"
        )
    return path


def launch_chromium(playwright: Playwright, extra_args: Sequence[str] = ()) -> Browser:
    """Launch headless Debian chromium, e.g. with a fake camera in ``extra_args``
    (``--use-fake-device-for-media-stream``, ``--use-file-for-fake-video-capture=F.y4m``)."""
    return playwright.chromium.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[*CHROMIUM_ARGS, *extra_args],
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session (Playwright gives it a temporary profile)."""
    chromium_path()  # skip before starting Playwright when there is no browser
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A new page in its own browser context (fresh cookies and storage), closed after."""
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
