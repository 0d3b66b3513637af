// The inspector's only script (the CSP allows no inline code). The pages work without it: it only adds
// new captures to the list as they arrive, and the copy buttons on a capture's page.
// Everything from the server goes into the page through textContent, never as HTML.
"use strict";

const POLL_MS = 2000;
const COLUMNS = ["time", "id", "source", "webhook_names", "foreignkeys", "events", "size", "status"];
const NUMERIC = new Set(["events", "size"]);

function cell(row, name) {
  const td = document.createElement("td");
  const text = row.display[name];
  const href = name === "id" ? row.url : name === "foreignkeys" ? row.customer_url : null;
  if (href) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    td.appendChild(a);
  } else {
    td.textContent = text;
  }
  if (name === "time" || name === "status") td.className = name;
  if (name === "id") td.className = "id";
  if (NUMERIC.has(name)) td.className = "num";
  return td;
}

function rowElement(row) {
  const tr = document.createElement("tr");
  tr.className = "new status-" + String(row.status).replace(/[^a-z]/g, "");
  tr.dataset.id = row.id;
  for (const name of COLUMNS) tr.appendChild(cell(row, name));
  return tr;
}

function startLive(tbody) {
  const note = document.getElementById("live-status");
  let after = tbody.dataset.after;
  let failures = 0;
  const say = (text) => { if (note) { note.hidden = false; note.textContent = text; } };
  say("Live: new captures appear at the top.");
  async function poll() {
    const url = tbody.dataset.poll + (tbody.dataset.poll.includes("?") ? "&" : "?") + "after=" + encodeURIComponent(after);
    try {
      const answer = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok) throw new Error("HTTP " + answer.status);
      const data = await answer.json();
      const rows = data.captures || [];
      for (let i = rows.length - 1; i >= 0; i--) {
        if (!tbody.querySelector('tr[data-id="' + CSS.escape(rows[i].id) + '"]')) tbody.insertBefore(rowElement(rows[i]), tbody.firstChild);
      }
      if (rows.length) {
        const empty = document.getElementById("no-captures");
        if (empty) empty.hidden = true;
      }
      if (data.more) say("Live: more captures arrived than shown; reload for all of them.");
      if (data.after) after = data.after;
      failures = 0;
    } catch (error) {
      failures += 1;
      say("Live updates paused (" + error.message + "); retrying.");
    }
    setTimeout(poll, POLL_MS * Math.min(1 + failures, 5));
  }
  setTimeout(poll, POLL_MS);
}

function copyText(text, button) {
  const done = () => {
    let mark = button.nextElementSibling;
    if (!mark || !mark.classList.contains("copied")) {
      mark = document.createElement("span");
      mark.className = "copied";
      button.after(mark);
    }
    mark.textContent = "copied";
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  } else {
    fallbackCopy(text, done);
  }
}

function fallbackCopy(text, done) {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.className = "offscreen";
  document.body.appendChild(area);
  area.select();
  try { if (document.execCommand("copy")) done(); } finally { area.remove(); }
}

function startCopyButtons() {
  for (const button of document.querySelectorAll("button.copy[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) continue;
    button.hidden = false;
    button.addEventListener("click", () => copyText(source.textContent, button));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const tbody = document.getElementById("captures");
  if (tbody && tbody.dataset.poll) startLive(tbody);
  startCopyButtons();
});
