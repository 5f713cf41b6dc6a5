/* Holder page: live clock, and a fresh signed token drawn as a QR every 60 s.
 *
 * The page does no crypto. It fetches GET /holder/code (JSON: token, expires_at,
 * colour, status_code) on load and every REFRESH_S seconds and draws the token
 * with qrcode-generator (error level M, alphanumeric mode) on the canvas. An
 * expired token is wiped, so the screen never shows a code a verifier would reject.
 */
"use strict";

(function () {
  const REFRESH_S = 60;
  const CELL = 6;        // canvas pixels per module
  const QUIET = 4;       // quiet zone, in modules

  const canvas = document.getElementById("qr");
  const statusLine = document.getElementById("qr-status");
  const countdown = document.getElementById("countdown");
  const expiresLine = document.getElementById("expires");
  const clock = document.getElementById("clock");
  const card = document.getElementById("code-card");

  let expiresAt = null;
  let nextRefresh = REFRESH_S;

  function tick() {
    clock.textContent = hc.formatTime(new Date());
    if (nextRefresh > 0) nextRefresh -= 1;
    countdown.textContent = hc.t("js.refresh-in", { s: nextRefresh });
    if (expiresAt && Date.now() >= expiresAt.getTime()) wipe(hc.t("js.code-expired"));
    if (nextRefresh <= 0) refresh();
  }

  function wipe(message) {
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    canvas.dataset.state = "empty";
    delete canvas.dataset.token;
    expiresAt = null;
    statusLine.hidden = false;
    statusLine.textContent = message;
  }

  function draw(token) {
    const qr = qrcode(0, "M");
    qr.addData(token, "Alphanumeric");
    qr.make();
    const n = qr.getModuleCount();
    const size = (n + 2 * QUIET) * CELL;
    canvas.width = size;
    canvas.height = size;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    ctx.fillStyle = "#000";
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < n; c++) {
        if (qr.isDark(r, c)) ctx.fillRect((QUIET + c) * CELL, (QUIET + r) * CELL, CELL, CELL);
      }
    }
    canvas.dataset.state = "ready";
    canvas.dataset.token = token;   // lets tests and assistive tools read the exact text
    statusLine.hidden = true;
  }

  async function refresh() {
    nextRefresh = REFRESH_S;
    countdown.textContent = hc.t("js.refresh-in", { s: nextRefresh });
    let resp;
    try {
      resp = await fetch("/holder/code", {
        credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
      });
    } catch (e) {
      statusLine.hidden = false;
      statusLine.textContent = hc.t("js.code-error");
      nextRefresh = 10;
      return;
    }
    if (resp.status === 401) {
      window.location.assign("/holder/sign-in");
      return;
    }
    if (!resp.ok) {
      statusLine.hidden = false;
      statusLine.textContent = hc.t("js.code-error");
      nextRefresh = 10;
      return;
    }
    const code = await resp.json();
    if (card.dataset.colour && code.colour !== card.dataset.colour) {
      // The status changed since the page was rendered: show the new colour and reasons.
      window.location.reload();
      return;
    }
    draw(code.token);
    expiresAt = new Date(code.expires_at);
    expiresLine.textContent = hc.t("js.valid-until", { t: hc.formatTime(expiresAt).slice(11) });
  }

  clock.textContent = hc.formatTime(new Date());
  refresh();
  setInterval(tick, 1000);
})();
