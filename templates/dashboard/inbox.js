// The inbox's one script: SMS segments counted as a person types, and new messages brought in
// without a reload. It polls (a page left open all day holds no connection between polls) and
// pauses while the tab is hidden. Text from the server is set as text, never as HTML.
"use strict";

const GSM = new Set(("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡" +
  "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà").split(""));
const GSM_EXTENDED = new Set("^{}\\[~]|€\f".split(""));

// Mirrors bot.templates.sms_segments: an escape or surrogate pair is never split across parts.
function segments(text) {
  const chars = Array.from(text);
  const gsm = chars.every((c) => GSM.has(c) || GSM_EXTENDED.has(c));
  const costs = chars.map((c) => (gsm ? (GSM_EXTENDED.has(c) ? 2 : 1) : c.length));
  const units = costs.reduce((a, b) => a + b, 0);
  const [single, part] = gsm ? [160, 153] : [70, 67];
  let count = units === 0 ? 0 : 1;
  if (units > single) {
    let used = 0;
    for (const cost of costs) {
      if (used + cost > part) { count += 1; used = 0; }
      used += cost;
    }
  }
  return { encoding: gsm ? "GSM-7" : "UCS-2", count, characters: chars.length };
}

function watchSegments() {
  const body = document.getElementById("body");
  const out = document.getElementById("segments");
  const channel = document.getElementById("channel");
  if (!body || !out) return;
  const show = () => {
    if (channel && channel.value !== "sms") { out.textContent = ""; return; }
    const s = segments(body.value);
    out.textContent = `${s.characters} characters · ${s.count} SMS segment${s.count === 1 ? "" : "s"} (${s.encoding})`;
  };
  body.addEventListener("input", show);
  if (channel) channel.addEventListener("change", show);
  show();
}

function every(ms, task) {
  const tick = async () => {
    if (!document.hidden) {
      try { await task(); } catch (_) { /* the next tick tries again */ }
    }
    setTimeout(tick, ms);
  };
  setTimeout(tick, ms);
}

function messageElement(m) {
  const box = document.createElement("div");
  box.className = `msg ${m.direction}`;
  box.dataset.message = m.id;
  const head = document.createElement("div");
  head.className = "head";
  const who = m.direction === "in" ? "seller" : "bot";
  head.textContent = [who, m.channel, new Date(m.at).toLocaleString(), m.status, m.direction === "in" ? m.intent : null]
    .filter(Boolean).join(" · ");
  const body = document.createElement("p");
  body.textContent = m.body;
  box.append(head, body);
  return box;
}

function watchTranscript() {
  const list = document.getElementById("messages");
  if (!list || !list.dataset.poll) return;
  every(2000, async () => {
    const url = `${list.dataset.poll}?after=${encodeURIComponent(list.dataset.after || "")}`;
    const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!answer.ok) return;
    const { messages } = await answer.json();
    for (const m of messages) {
      if (list.querySelector(`[data-message="${m.id}"]`)) continue;
      document.getElementById("no-messages")?.remove();
      list.append(messageElement(m));
      list.dataset.after = m.id;
    }
  });
}

function watchConversations() {
  const rows = document.getElementById("conversation-rows");
  if (!rows || !rows.dataset.poll) return;
  const signature = (items) => items.map((c) => `${c.id}:${c.unread}:${c.at}`).join("|");
  let seen = null;
  every(4000, async () => {
    const answer = await fetch(rows.dataset.poll + location.search, { credentials: "same-origin" });
    if (!answer.ok) return;
    const now = signature((await answer.json()).conversations);
    if (seen !== null && now !== seen) {
      const page = await fetch(location.href, { credentials: "same-origin" });
      const fresh = new DOMParser().parseFromString(await page.text(), "text/html").getElementById("conversation-rows");
      if (fresh) rows.replaceChildren(...fresh.children);
    }
    seen = now;
  });
}

watchSegments();
watchTranscript();
watchConversations();
