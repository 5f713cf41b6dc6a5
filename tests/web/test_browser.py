"""The pages in real headless chromium (Playwright) against a live uvicorn server.

- the holder signs in with the code from the outbox; the QR drawn on the page
  decodes to a token that ``POST /verify`` accepts, with the colour the page shows;
- the verifier page shows the verdict for an uploaded QR picture, for pasted
  text (a tampered token: 无效 and the failed stage, never a colour), and for
  the camera (a fake video device showing the QR);
- ``?lang=en`` switches the pages to English.
"""

from __future__ import annotations

import base64
import io
import time
from datetime import timedelta

import httpx
import pytest
from PIL import Image

from healthcode.credentials.qr import decode_image, encode_png
from healthcode.web.i18n import I18n
from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.web.helpers import enrol, latest_otp, outbox_mark

pytestmark = pytest.mark.browser

MESSAGES = I18n.load()


def zh(key: str) -> str:
    text = MESSAGES.message("zh_CN", key)
    assert text is not None, key
    return text


def wait_for_otp(service, phone: str, *, after: int, timeout: float = 10.0) -> str:
    """The SMS is sent after the response (background task): poll the outbox for a message
    newer than ``after`` (an :func:`outbox_mark` taken before the request)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return latest_otp(service, phone, after=after)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="module")
def yellow_holder(live_server):
    svc = live_server.service
    h = enrol(svc, name="王小丽")
    listed = (svc.now() - timedelta(days=1)).isoformat()
    svc.import_facts(
        "contacts",
        [{"holder_id": h["holder_id"], "kind": "secondary", "listed_at": listed}],
        source="test",
    )
    return h


@pytest.fixture(scope="module")
def green_token(live_server) -> str:
    h = enrol(live_server.service)
    return live_server.service.issue_code(h["holder_id"], actor="test")["token"]


@pytest.fixture
def page(page):
    """The page fixture, failing the test on any script error or CSP violation."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    yield page
    # A refused sign-in (401) or a 401 probe is logged by chromium as a failed resource.
    problems = [p for p in problems if "status of 401" not in p]
    assert not problems, problems


def browser_sign_in(page, live_server, phone: str) -> None:
    page.goto(f"{live_server.url}/holder")
    assert page.url.endswith("/holder/sign-in")
    page.fill("#phone", phone)
    mark = outbox_mark(live_server.service)
    page.click("form[action='/holder/sign-in'] button[type=submit]")
    page.wait_for_selector("#code-sent")
    page.fill("#code", wait_for_otp(live_server.service, phone, after=mark))
    page.click("form[action='/holder/sign-in/verify'] button[type=submit]")
    page.wait_for_url(f"{live_server.url}/holder")


def test_holder_qr_decodes_to_a_token_the_verifier_accepts(page, live_server, yellow_holder):
    browser_sign_in(page, live_server, yellow_holder["phone"])
    page.wait_for_selector("canvas#qr[data-state=ready]", timeout=10_000)
    colour = page.get_attribute("#code-card", "data-colour")
    label = page.inner_text("#colour-label").strip()
    assert colour == "yellow"
    assert label == "黄码"

    data_url = page.evaluate("document.getElementById('qr').toDataURL('image/png')")
    png = base64.b64decode(data_url.split(",", 1)[1])
    texts = decode_image(png)
    assert texts == [page.get_attribute("canvas#qr", "data-token")]
    assert texts[0].startswith("HP1:")

    report = httpx.post(f"{live_server.url}/verify", json={"text": texts[0]}).json()
    assert report["verdict"] == "valid"
    assert report["colour"] == colour
    assert report["status_code"] == "01"

    # The rest of the code face.
    assert page.inner_text("#code-name") == "北京健康宝"
    assert page.inner_text("#name-masked") == yellow_holder["name_masked"]
    assert "HC-R-0004" in page.inner_text("#reasons")
    assert "秒后刷新" in page.inner_text("#countdown")
    first = page.inner_text("#clock")
    page.wait_for_timeout(1_100)
    assert page.inner_text("#clock") != first  # the live clock ticks


def test_holder_page_requires_sign_in(page, live_server):
    page.goto(f"{live_server.url}/holder")
    assert page.url.endswith("/holder/sign-in")
    status = page.evaluate("fetch('/holder/code').then(r => r.status)")
    assert status == 401


def upload(page, png: bytes) -> None:
    page.set_input_files(
        "#image", files=[{"name": "code.png", "mimeType": "image/png", "buffer": png}]
    )
    page.wait_for_selector("#result:not([hidden])")


def test_verifier_upload_shows_valid_with_colour(page, live_server, green_token):
    page.goto(f"{live_server.url}/verifier")
    upload(page, encode_png(green_token))
    assert page.inner_text("#verdict-word").endswith("有效")
    assert page.get_attribute("#verdict", "data-verdict") == "valid"
    assert page.inner_text("#verdict-colour").startswith("绿码")
    assert "verdict-valid" in page.get_attribute("#verdict", "class")
    assert "张*三" in page.inner_text("#verdict-holder")


def test_verifier_pasted_tampered_token_shows_invalid_and_the_stage(page, live_server, green_token):
    i = len(green_token) - 20  # inside the signature bytes
    tampered = green_token[:i] + ("0" if green_token[i] != "0" else "1") + green_token[i + 1 :]
    expected = httpx.post(f"{live_server.url}/verify", json={"text": tampered}).json()
    failed = [s for s, v in expected["stages"].items() if v is False]
    assert expected["verdict"] == "invalid" and failed

    page.goto(f"{live_server.url}/verifier")
    page.fill("#text", tampered)
    page.click("#paste-form button[type=submit]")
    page.wait_for_selector("#result:not([hidden])")
    assert page.inner_text("#verdict-word").endswith("无效")
    assert page.get_attribute("#verdict", "data-verdict") == "invalid"
    classes = page.get_attribute("#verdict", "class")
    assert "verdict-invalid" in classes and "colour-" not in classes
    assert not page.is_visible("#verdict-colour")  # never a colour for an invalid code
    failures = page.inner_text("#failure-list")
    for stage in failed:
        assert zh(f"stage.{stage}") in failures
    for reason in expected["reasons"]:
        assert zh(f"reason.{reason}") in failures


def test_verifier_non_image_upload(page, live_server):
    page.goto(f"{live_server.url}/verifier")
    upload(page, b"this is not a picture")
    assert page.inner_text("#verdict-word").endswith("无效")
    failures = page.inner_text("#failure-list")
    assert zh("stage.picture") in failures
    assert zh("reason.picture-unreadable") in failures


def test_verifier_shows_unknown_codes_as_codes(page, live_server):
    report = {
        "format": "native",
        "verdict": "invalid",
        "colour": None,
        "status_code": None,
        "stages": {"prefix": True, "future_stage": False},
        "reasons": ["brand-new-code"],
        "warnings": ["new-warning"],
        "holder": {},
        "type": "health-code",
    }
    page.route("**/verify", lambda route: route.fulfill(json=report))
    page.goto(f"{live_server.url}/verifier")
    page.fill("#text", "HP1:ANYTHING")
    page.click("#paste-form button[type=submit]")
    page.wait_for_selector("#result:not([hidden])")
    failures = page.inner_text("#failure-list")
    assert "future_stage" in failures
    assert "brand-new-code" in failures
    assert "new-warning" in page.inner_text("#warning-list")


def test_english(page, live_server, green_token, yellow_holder):
    page.goto(f"{live_server.url}/verifier?lang=en")
    assert page.inner_text("h1") == "Verify a health code"
    upload(page, encode_png(green_token))
    assert page.inner_text("#verdict-word").endswith("Valid")
    assert page.inner_text("#verdict-colour").startswith("Green code")
    # The language sticks for the holder pages (cookie).
    browser_sign_in(page, live_server, yellow_holder["phone"])
    page.wait_for_selector("canvas#qr[data-state=ready]", timeout=10_000)
    assert page.inner_text("#colour-label").strip() == "Yellow code"
    assert "Refreshes in" in page.inner_text("#countdown")
    assert "Why this colour" in page.inner_text("#reasons")


def _y4m(png: bytes, width: int = 640, height: int = 480, frames: int = 5) -> bytes:
    """A short YUV4MPEG2 (4:2:0) video showing the picture centred on white."""
    qr = Image.open(io.BytesIO(png)).convert("L")
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(qr, ((width - qr.width) // 2, (height - qr.height) // 2))
    y = canvas.tobytes()
    uv = bytes([128]) * ((width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + b"".join(b"FRAME\n" + y + uv + uv for _ in range(frames))


def test_verifier_camera_reads_a_fake_video(browser, live_server, green_token, tmp_path):
    video = tmp_path / "qr.y4m"
    video.write_bytes(_y4m(encode_png(green_token, scale=6, border=4)))
    cam = browser.browser_type.launch(
        executable_path=chromium_path(),
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        ctx = cam.new_context(permissions=["camera"])
        page = ctx.new_page()
        page.goto(f"{live_server.url}/verifier")
        page.click("#camera-start")
        page.wait_for_selector("#result:not([hidden])", timeout=15_000)
        assert page.inner_text("#verdict-word").endswith("有效")
        assert page.inner_text("#verdict-colour").startswith("绿码")
        ctx.close()
    finally:
        cam.close()
