/* Verifier page: camera (getUserMedia + jsQR on throttled video frames), image upload
 * and pasted text, all sent to POST /verify; the report is shown as a large verdict
 * plus, in plain words, each failed stage and each reason code.
 *
 * Plain words are looked up per format first (reason.hc1.expired: "validity ended on
 * {date}"), then per code (reason.expired); a message whose placeholders the report
 * cannot fill is skipped. An invalid verdict never shows a colour: the verdict box is
 * neutral and the colour label is hidden. A DEMO credential (warning "demo") is marked
 * in the verdict box.
 *
 * Three verdicts (data-verdict): "valid", "invalid", and "unchecked" — "could not
 * check": no report came back (no connection, a refused request, a server error), or
 * the report says this verifier's own configured trust could not be loaded while the
 * credential's signer was not found (warning foreign-trust-unavailable). "Unchecked"
 * is never shown as invalid: the problem is the checkpoint's, not the traveller's.
 *
 * Names: a DCC or SHC holder is shown by family name and given name, labelled (with
 * the transliteration when the certificate has one), never a guessed composition.
 * Record codes are named from the page's code-names table (Chinese names of the EU
 * value-set codes; SHC codes in both languages), else the report's own names.
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
  const uncheckedBox = $("verdict-unchecked");
  const rulesBox = $("verdict-rules");
  const ruleList = $("rule-list");
  const codeNames = JSON.parse(($("code-names") || {}).textContent || "{}");
  const pageLang = (document.documentElement.lang || "zh-CN").toLowerCase().startsWith("en") ? "en" : "zh";
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

  /** obj[key] when obj has it as its own member (report data never reaches prototypes). */
  function own(obj, key) {
    return obj && typeof obj === "object" && Object.prototype.hasOwnProperty.call(obj, key) ? obj[key] : undefined;
  }

  /** The EU value set of each DCC field whose code the page names. */
  const DCC_SETS = {
    tg: "disease-agent-targeted",
    vp: "sct-vaccines-covid-19",
    mp: "vaccines-covid-19-names",
    ma: "vaccines-covid-19-auth-holders",
    tt: "covid-19-lab-test-type",
    tr: "covid-19-lab-result",
  };

  /** A DCC entry's field in words: the page's name for the code, else the report's, else the code. */
  function dccName(entry, field) {
    const code = own(entry, field);
    if (code === undefined || code === null) return null;
    const local = own(own(own(codeNames, "dcc"), DCC_SETS[field]), String(code));
    if (typeof local === "string") return local;
    const named = own(entry, field + "_name");
    return typeof named === "string" ? named : String(code);
  }

  /** An SHC coding in words: the page's name for system + code, else its display or text, else the code. */
  function fhirName(coding) {
    if (!coding || typeof coding !== "object") return null;
    const local = own(own(own(codeNames, "fhir"), coding.system), String(coding.code));
    if (typeof local === "string") return local;
    for (const k of ["display", "text", "code"]) if (typeof coding[k] === "string" && coding[k]) return coding[k];
    return null;
  }

  /** A date (shown as given) or an instant (shown in China time, to the minute). */
  function day(v) {
    return typeof v === "string" ? (v.length > 10 ? when(v) || v : v) : null;
  }

  /** Label/value lines of the holder's name: family and given name labelled, as written
   * and transliterated; a single name only when the credential has no parts. */
  function nameLines(h) {
    const out = [];
    const part = (value, translit) => (translit ? value + " (" + translit + ")" : value);
    if (h.family_name) out.push([hc.t("js.family-name"), part(h.family_name, h.family_name_transliterated)]);
    if (h.given_name) out.push([hc.t("js.given-name"), part(h.given_name, h.given_name_transliterated)]);
    if (!out.length && h.name) out.push([hc.t("js.name"), h.name]);
    return out;
  }

  /** Show or hide the "could not check" explanation. */
  function showUnchecked(reason, code, advice) {
    uncheckedBox.hidden = reason === null;
    $("unchecked-reason").textContent = reason || "";
    $("unchecked-code").textContent = code || "";
    $("unchecked-advice").textContent = advice || "";
  }

  function setVerdict(verdict, colour) {
    verdictBox.dataset.verdict = verdict;
    verdictBox.className = "verdict " + (verdict === "valid" ? "verdict-valid colour-" + (colour || "none") : "verdict-" + verdict);
    verdictWord.textContent = hc.t("verdict." + verdict);
  }

  function render(report) {
    result.hidden = false;
    const valid = report.verdict === "valid";
    const warningCodes = report.warnings || [];
    // the verifier's own trust was incomplete and the signer was not found: its problem
    const unchecked = !valid && warningCodes.includes("foreign-trust-unavailable");
    setVerdict(valid ? "valid" : unchecked ? "unchecked" : "invalid", report.colour);
    if (unchecked) {
      const files = ((report.details || {}).trust_unavailable || [])
        .map((u) => (u.setting || "") + ": " + (u.file || "")).join("; ");
      showUnchecked(hc.t("js.unchecked-trust", { files: files || "—" }), "foreign-trust-unavailable", hc.t("js.unchecked-ask-operator"));
    } else {
      showUnchecked(null);
    }
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
      const d = report.details || {};
      if (h.code_name) lines.push([hc.t("js.issuer"), h.code_name]);
      if (h.name_masked) lines.push([hc.t("js.name"), h.name_masked]);
      lines.push(...nameLines(h));
      if (h.id_tail) lines.push([hc.t("js.id-tail"), h.id_tail]);
      if (h.birth_date || h.dob) lines.push([hc.t("js.birth-date"), h.birth_date || h.dob]);
      for (const entry of (Array.isArray(d.certificate) ? d.certificate : [])) {
        const text = entrySummary(entry);
        if (text) lines.push([hc.t("js.record"), text]);
        if (entry.type === "test" && day(entry.sc)) lines.push([hc.t("js.sampled-at"), day(entry.sc)]);
      }
      for (const record of (Array.isArray(d.records) ? d.records : [])) {
        const text = recordSummary(record);
        if (text) lines.push([hc.t("js.record"), text]);
      }
      if (report.format !== "native" && when(d.expires_at)) lines.push([hc.t("js.valid-until-label"), when(d.expires_at)]);
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
    if (!valid && !unchecked) {
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

    renderRules(report);

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
    if (e.type === "vaccination" && e.dn !== undefined) {
      return hc.t("js.summary-vaccination", { product: dccName(e, "mp") || "?", dn: e.dn, sd: e.sd === undefined ? "?" : e.sd, date: day(e.dt) || "?" });
    }
    if (e.type === "test" && e.tr !== undefined) {
      return hc.t("js.summary-test", { test: dccName(e, "tt") || "?", result: dccName(e, "tr") || "?" });
    }
    if (e.type === "recovery" && e.df !== undefined) {
      return hc.t("js.summary-recovery", { from: day(e.df) || "?", until: day(e.du) || "?" });
    }
    return null;
  }

  /** One line for an SHC record (details.records): an immunization or a lab result. */
  function recordSummary(r) {
    if (r.type === "immunization") {
      const params = { vaccine: fhirName(r.vaccine) || "?", date: day(r.date) || "?" };
      if (typeof r.lot === "string") return hc.t("js.summary-immunization-lot", Object.assign(params, { lot: r.lot }));
      return hc.t("js.summary-immunization", params);
    }
    if (r.type === "observation") {
      const result = fhirName(r.result) || (typeof r.value === "string" ? r.value : null) || "?";
      return hc.t("js.summary-lab", { test: fhirName(r.test) || "?", result: result, date: day(r.date) || "?" });
    }
    return null;
  }

  /** The rule's description in the page's language, else English, else any. */
  function ruleDescription(r) {
    const all = r.descriptions && typeof r.descriptions === "object" ? r.descriptions : {};
    const keys = pageLang === "en" ? ["en"] : ["zh", "zh-CN", "zh_CN", "zh-Hans"];
    for (const k of keys.concat(["en"])) if (typeof own(all, k) === "string") return all[k];
    return typeof r.description === "string" && r.description ? r.description : hc.t("js.rule-no-description");
  }

  /** Business rules the certificate did not meet (failed, or could not be evaluated). */
  function renderRules(report) {
    clear(ruleList);
    const rules = Array.isArray((report.details || {}).rules) ? report.details.rules : [];
    for (const r of rules.filter((x) => x && x.result !== "passed")) {
      const li = hc.el("li", { class: "rule rule-" + (r.result === "failed" ? "failed" : "open"), "data-rule": String(r.identifier || "") });
      li.appendChild(hc.el("strong", { class: "rule-id" }, String(r.identifier || "?") + (r.version ? " v" + r.version : "")));
      li.appendChild(hc.el("span", { class: "rule-description" }, " " + ruleDescription(r)));
      if (r.result !== "failed") li.appendChild(hc.el("span", { class: "rule-open" }, " " + hc.t("js.rule-open")));
      ruleList.appendChild(li);
    }
    rulesBox.hidden = !ruleList.firstChild;
  }

  /** Anything that is not a verification report: "could not check", never "invalid". */
  function renderUnchecked(code, message) {
    result.hidden = false;
    setVerdict("unchecked");
    verdictColour.hidden = true;
    demoMark.hidden = true;
    holderBox.hidden = true;
    failures.hidden = true;
    rulesBox.hidden = true;
    warningsBox.hidden = true;
    clear(stageList);
    const advice = code === "network-error" ? "js.unchecked-network"
      : code === "invalid-input" || code === "payload-too-large" || code === "bad-request" ? "js.unchecked-input"
      : "js.unchecked-ask-operator";
    const reason = hc.lookup("error." + code) || (typeof message === "string" && message) || hc.t("error.internal-error");
    showUnchecked(reason, code, hc.t(advice));
    result.scrollIntoView({ block: "start" });
  }

  async function send(init) {
    busy.hidden = false;
    try {
      const resp = await fetch("/verify", Object.assign({ method: "POST", headers: { Accept: "application/json" } }, init));
      const body = await resp.json().catch(() => null);
      if (resp.ok && body && typeof body.verdict === "string" && body.stages) render(body);
      else renderUnchecked((body && typeof body.code === "string" && body.code) || "status-" + resp.status, body && body.message);
    } catch (e) {
      renderUnchecked("network-error", hc.t("js.network-error"));
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
