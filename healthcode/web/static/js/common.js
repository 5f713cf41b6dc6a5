/* Shared helpers of the healthcode pages: messages from the server's catalogue. */
"use strict";

window.hc = (function () {
  const node = document.getElementById("hc-messages");
  const messages = node ? JSON.parse(node.textContent || "{}") : {};

  /** Text of a keyed message with {name} placeholders filled; null when unknown. */
  function lookup(key, params) {
    if (!Object.prototype.hasOwnProperty.call(messages, key)) return null;
    let text = messages[key];
    if (params) {
      for (const [k, v] of Object.entries(params)) text = text.split("{" + k + "}").join(String(v));
    }
    return text;
  }

  /** Like lookup, but falls back to the given text (or the key itself). */
  function t(key, params, fallback) {
    const text = lookup(key, params);
    if (text !== null) return text;
    return fallback === undefined ? key : fallback;
  }

  const dateFmt = new Intl.DateTimeFormat("sv-SE", {
    timeZone: "Asia/Shanghai",
    year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });

  /** "YYYY-MM-DD HH:MM:SS" in China Standard Time (the zone of the code). */
  function formatTime(date) {
    return dateFmt.format(date);
  }

  /** An element with text content (never innerHTML: report data is untrusted). */
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v; else e.setAttribute(k, v);
    }
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  return { lookup, t, formatTime, el };
})();
