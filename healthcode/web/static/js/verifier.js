/* Verifier page: camera (getUserMedia + jsQR on throttled video frames), image upload
 * and pasted text, all sent to POST /verify; the report is shown as a large verdict
 * plus, in plain words, each failed stage and each reason code.
 *
 * Plain words are looked up per format first (reason.hc1.expired: "validity ended on
 * {date}"), then per code (reason.expired); a message whose placeholders the report
 * cannot fill is skipped. An invalid verdict never shows a colour: the verdict box is
 * neutral and the colour label is hidden. A DEMO credential (warning "demo") is marked
 * in the verdict box.
 */
"use strict";

(function () {
  const SCAN_INTERVAL_MS = 250;   // at most 4 decodes a second
  const MAX_FRAME_WIDTH = 640;    // frames are scaled down before decoding

  const $ = (id) => document.getElementById(id);
  const result = $("result");
  const verdictBox = $("verdict");
  const verdictWord = $("verdict-word");
  const verdictColour = $("verdict-colour");
  const holderBox = $("verdict-holder");
  const demoMark = $("verdict-demo");
  const warningsBox = $("verdict-warnings");
  const failures = $("verdict-failures");
  const failureList = $("failure-list");
  const warningList = $("warning-list");
  const stageList = $("stage-list");
  const busy = $("busy");
  const video = $("video");
  const frame = $("frame");
  const cameraStatus = $("camera-status");
  const startBtn = $("camera-start");
  const stopBtn = $("camera-stop");

  let stream = null;
  let scanning = false;
  let timer = null;

  /** A stage's name, in the words of the report's format first (stage.hc1.signer). */
  const stageName = (s, report) =>
    (report && report.format && hc.lookup("stage." + report.format + "." + s)) || hc.t("stage." + s, null, s);

  /** "YYYY-MM-DD HH:MM" in China Standard Time of an ISO instant, or null. */
  function when(iso) {
    if (!iso) return null;
    const d = new Date(iso);
    return isNaN(d.getTime()) ? null : hc.formatTime(d).slice(0, 16);
  }

  /** Values the plain words may name, from the report's details. */
  function wordParams(report, code) {
    const d = report.details || {};
    const date = {
      "expired": when(d.valid_until),
      "not-yet-valid": when(d.signer_valid_from) || when(d.valid_from),
      "signer-certificate-expired": when(d.signer_valid_until),
    }[code];
    const params = {};
    if (date) params.date = date;
    if (typeof d.kid === "string") params.kid = d.kid;
    if (typeof d.iss === "string") params.iss = d.iss;
    return params;
  }

  /** Plain words for a code of a group (reason / warning): the format's own words first. */
  function words(group, code, report) {
    const params = wordParams(report, code);
    const keys = [group + "." + report.format + "." + code, group + "." + code];
    for (const key of keys) {
      const text = hc.lookup(key, params);
      if (text !== null && !/\{\w+\}/.test(text)) return text;
    }
    return code;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function render(report) {
    result.hidden = false;
    const valid = report.verdict === "valid";
    verdictBox.dataset.verdict = valid ? "valid" : "invalid";
    verdictBox.className = "verdict " + (valid ? "verdict-valid colour-" + (report.colour || "none") : "verdict-invalid");
    verdictWord.textContent = hc.t(valid ? "verdict.valid" : "verdict.invalid");
    if (valid && report.colour) {
      verdictColour.hidden = false;
      verdictColour.textContent = hc.t("colour." + report.colour, null, report.colour) +
        (report.status_code ? " · " + report.status_code : "");
    } else {
      verdictColour.hidden = true;
      verdictColour.textContent = "";
    }

    const warnings = report.warnings || [];
    demoMark.hidden = !warnings.includes("demo");

    clear(holderBox);
    const h = report.holder || {};
    const lines = [];
    if (report.format) lines.push([hc.t("js.format"), hc.t("format." + report.format, null, report.format)]);
    if (report.format !== "native" && report.type) {
      lines.push([hc.t("js.certificate-type"), hc.t("js.type-" + report.type, null, report.type)]);
    }
    if (valid) {
      if (h.code_name) lines.push([hc.t("js.issuer"), h.code_name]);
      if (h.name_masked) lines.push([hc.t("js.name"), h.name_masked]);
      if (h.name) lines.push([hc.t("js.name"), h.name]);
      if (h.id_tail) lines.push([hc.t("js.id-tail"), h.id_tail]);
      if (h.birth_date || h.dob) lines.push([hc.t("js.birth-date"), h.birth_date || h.dob]);
      for (const entry of ((report.details || {}).certificate || [])) {
        const text = entrySummary(entry);
        if (text) lines.push([hc.t("js.record"), text]);
      }
    }
    if (lines.length) {
      const dl = hc.el("dl", { class: "kv" });
      for (const [k, v] of lines) {
        dl.appendChild(hc.el("dt", {}, k));
        dl.appendChild(hc.el("dd", {}, v));
      }
      holderBox.appendChild(dl);
      holderBox.hidden = false;
    } else {
      holderBox.hidden = true;
    }

    // Failed stages and reasons, in plain words: report.failures names each stage's reason.
    clear(failureList);
    const stages = report.stages || {};
    const reasons = report.reasons || [];
    if (!valid) {
      const told = new Set();
      if (report.failures) {
        for (const [stage, reason] of Object.entries(report.failures)) {
          failureList.appendChild(failureItem(stage, reason, report));
          told.add(reason);
        }
      } else {
        // a report without "failures" (an error shape, or an older server): failed stages
        // and reasons side by side
        for (const s of Object.keys(stages).filter((k) => stages[k] === false)) {
          failureList.appendChild(failureItem(s, null, report));
        }
      }
      for (const r of reasons) {
        if (!told.has(r)) failureList.appendChild(failureItem(null, r, report));
      }
      if (!failureList.firstChild) {
        failureList.appendChild(hc.el("li", {}, hc.t("js.nothing-checked")));
      }
      failures.hidden = false;
    } else {
      failures.hidden = true;
    }

    clear(warningList);
    for (const w of warnings) {
      warningList.appendChild(hc.el("li", { "data-code": w }, words("warning", w, report)));
    }
    warningsBox.hidden = !warnings.length;

    clear(stageList);
    for (const [s, v] of Object.entries(stages)) {
      const mark = v === true ? "✓" : v === false ? "✗" : "–";
      const state = v === true ? "passed" : v === false ? "failed" : "skipped";
      const li = hc.el("li", { class: "stage stage-" + state, "data-stage": s });
      li.appendChild(hc.el("span", { class: "mark", "aria-hidden": "true" }, mark));
      li.appendChild(hc.el("span", {}, stageName(s, report) + " — " + hc.t("js.stage-" + state)));
      stageList.appendChild(li);
    }
    result.scrollIntoView({ block: "start" });
  }

  function failureItem(stage, reason, report) {
    const li = hc.el("li", { class: "failure" });
    if (stage) {
      li.dataset.stage = stage;
      li.appendChild(hc.el("strong", { class: "failure-stage" }, stageName(stage, report)));
    }
    if (reason) {
      li.dataset.reason = reason;
      li.appendChild(hc.el("span", { class: "failure-reason" }, words("reason", reason, report)));
      li.appendChild(hc.el("code", { class: "failure-code" }, reason));
    }
    return li;
  }

  /** One line for a DCC entry (details.certificate): what was certified, and when. */
  function entrySummary(e) {
    const name = (field) => e[field + "_name"] || e[field];
    const day = (v) => (typeof v === "string" ? (v.length > 10 ? when(v) || v : v) : null);
    if (e.type === "vaccination" && e.dn !== undefined) {
      return hc.t("js.summary-vaccination", { product: name("mp") || "?", dn: e.dn, sd: e.sd === undefined ? "?" : e.sd, date: day(e.dt) || "?" });
    }
    if (e.type === "test" && e.tr !== undefined) {
      return hc.t("js.summary-test", { test: name("tt") || "?", result: name("tr") || "?", date: day(e.sc) || "?" });
    }
    if (e.type === "recovery" && e.df !== undefined) {
      return hc.t("js.summary-recovery", { from: day(e.df) || "?", until: day(e.du) || "?" });
    }
    return null;
  }

  function renderError(body) {
    // An error shape (not a report): the request itself was refused.
    render({ format: null, verdict: "invalid", stages: {}, reasons: [], warnings: [] });
    clear(failureList);
    const code = (body && body.code) || "internal-error";
    const li = hc.el("li", { class: "failure", "data-reason": code });
    li.appendChild(hc.el("span", { class: "failure-reason" }, hc.t("error." + code, null, (body && body.message) || code)));
    li.appendChild(hc.el("code", { class: "failure-code" }, code));
    failureList.appendChild(li);
    failures.hidden = false;
  }

  async function send(init) {
    busy.hidden = false;
    try {
      const resp = await fetch("/verify", Object.assign({ method: "POST", headers: { Accept: "application/json" } }, init));
      const body = await resp.json().catch(() => null);
      if (resp.ok && body && body.verdict) render(body); else renderError(body);
    } catch (e) {
      renderError({ code: "network-error", message: hc.t("js.network-error") });
    } finally {
      busy.hidden = true;
    }
  }

  function verifyText(raw) {
    const lines = raw.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    const chunks = lines.length > 1 && lines.every((l) => l.toLowerCase().startsWith("shc:/"));
    const body = chunks ? { texts: lines } : { text: raw.trim() };
    return send({ headers: { "Content-Type": "application/json", Accept: "application/json" }, body: JSON.stringify(body) });
  }

  // -- paste ---------------------------------------------------------------
  $("paste-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const raw = $("text").value;
    if (raw.trim()) verifyText(raw);
  });

  // -- upload ----------------------------------------------------------------
  $("image").addEventListener("change", (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    const data = new FormData();
    data.append("image", file, file.name || "code.png");
    send({ body: data });
    ev.target.value = "";
  });

  // -- camera ----------------------------------------------------------------
  function scanOnce() {
    if (!scanning || video.readyState < 2 || !video.videoWidth) return;
    const scale = Math.min(1, MAX_FRAME_WIDTH / video.videoWidth);
    const w = Math.round(video.videoWidth * scale);
    const h = Math.round(video.videoHeight * scale);
    frame.width = w;
    frame.height = h;
    const ctx = frame.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, w, h);
    const found = jsQR(ctx.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
    if (found && found.data) {
      scanning = false;
      cameraStatus.textContent = hc.t("js.camera-found");
      verifyText(found.data);
    }
  }

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraStatus.textContent = hc.t("js.camera-unavailable");
      return;
    }
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (e) {
      cameraStatus.textContent = hc.t("js.camera-denied");
      return;
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play().catch(() => {});
    scanning = true;
    startBtn.hidden = true;
    stopBtn.hidden = false;
    cameraStatus.textContent = hc.t("js.camera-scanning");
    timer = setInterval(scanOnce, SCAN_INTERVAL_MS);
  }

  function stopCamera() {
    scanning = false;
    if (timer) clearInterval(timer);
    timer = null;
    if (stream) stream.getTracks().forEach((t) => t.stop());
    stream = null;
    video.hidden = true;
    startBtn.hidden = false;
    stopBtn.hidden = true;
    cameraStatus.textContent = "";
  }

  startBtn.addEventListener("click", startCamera);
  stopBtn.addEventListener("click", stopCamera);
  $("again").addEventListener("click", () => {
    result.hidden = true;
    $("text").value = "";
    if (stream) {
      scanning = true;
      cameraStatus.textContent = hc.t("js.camera-scanning");
    }
    window.scrollTo(0, 0);
  });
})();
