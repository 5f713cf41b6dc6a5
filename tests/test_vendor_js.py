"""The vendored browser QR libraries work together in real chromium.

qrcode-generator (holder page) draws a code on a canvas; jsQR (verifier page)
decodes the canvas pixels back to the same text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import healthcode

VENDOR = Path(healthcode.__file__).parent / "web" / "static" / "vendor"

ROUND_TRIP = """([text, mode]) => {
  const qr = qrcode(0, "M");  // 0: smallest version that fits
  qr.addData(text, mode);
  qr.make();
  const cell = 4, quiet = 4 * cell, n = qr.getModuleCount();
  const size = n * cell + 2 * quiet;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = "#000";
  for (let r = 0; r < n; r++)
    for (let c = 0; c < n; c++)
      if (qr.isDark(r, c)) ctx.fillRect(quiet + c * cell, quiet + r * cell, cell, cell);
  const image = ctx.getImageData(0, 0, size, size);
  const found = jsQR(image.data, size, size);
  return {modules: n, decoded: found ? found.data : null};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("mode", ["Alphanumeric", "Byte"])
def test_generated_qr_decodes_back(page, mode):
    page.goto("about:blank")
    page.add_script_tag(path=VENDOR / "qrcode-generator.js")
    page.add_script_tag(path=VENDOR / "jsQR.js")
    result = page.evaluate(ROUND_TRIP, ["HP1:TEST 123", mode])
    assert result["decoded"] == "HP1:TEST 123"
    assert result["modules"] == 21  # version 1 holds it in either mode at level M


def test_vendored_files_have_their_licences():
    for name in ("jsQR", "qrcode-generator"):
        assert (VENDOR / f"{name}.js").stat().st_size > 10_000
        assert (VENDOR / f"{name}.LICENSE").read_text(encoding="utf-8").strip()
