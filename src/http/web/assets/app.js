// clerk's web page: what the server-rendered pages do without a reload. Every change goes
// through the JSON API (/v1/...) with the session cookie and the page's CSRF token, so the
// API's own error messages are what the person reads.
"use strict";

const page = document.body.dataset;
const words = page.words ? JSON.parse(page.words) : {};
const business = page.business;
const api = (path) => `/v1/businesses/${encodeURIComponent(business)}${path}`;

// A call on the API; resolves to the parsed body or throws an Error with the API's message.
async function call(method, path, body, headers = {}) {
  const init = { method, credentials: "same-origin", headers: { "X-CSRF-Token": page.csrf, ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(api(path), init);
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (_) { /* a proxy's page, not ours */ }
  if (!response.ok) {
    throw new Error(parsed && parsed.error ? parsed.error.message : `${response.status} ${response.statusText}`);
  }
  return parsed;
}

function show(element, text, failed = false) {
  if (!element) return;
  element.textContent = text;
  element.classList.toggle("failed", failed);
}

// Times come as Unix seconds and are shown in the reader's zone and language.
function localizeTimes(root = document) {
  const format = new Intl.DateTimeFormat(page.lang || undefined, { dateStyle: "short", timeStyle: "short" });
  for (const t of root.querySelectorAll("time[data-ts]")) {
    const date = new Date(Number(t.dataset.ts) * 1000);
    t.dateTime = date.toISOString();
    t.textContent = format.format(date);
  }
}

// --- documents: one upload per file, so each file shows its own progress and error ---
function uploadOne(file, row) {
  return new Promise((resolve) => {
    const bar = row.querySelector("progress");
    const status = row.querySelector(".status");
    const request = new XMLHttpRequest();
    request.open("POST", api("/documents"));
    request.setRequestHeader("X-CSRF-Token", page.csrf);
    request.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
    request.onload = () => {
      let body = null;
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status >= 200 && request.status < 300) {
        bar.value = 1;
        const doc = body && body.documents ? body.documents.find((d) => d.name === file.name) : null;
        show(status, doc ? `${words.done}: ${doc.passages} ✓` : words.done);
        row.dataset.result = "ok";
        resolve(true);
      } else {
        show(status, `${words.failed}: ${body && body.error ? body.error.message : request.status}`, true);
        row.dataset.result = "failed";
        resolve(false);
      }
    };
    request.onerror = () => { show(status, words.failed, true); row.dataset.result = "failed"; resolve(false); };
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

function setUpDocuments() {
  const form = document.getElementById("upload");
  if (!form) return;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const files = [...form.querySelector("input[type=file]").files];
    const list = document.getElementById("progress");
    list.replaceChildren();
    const rows = files.map((file) => {
      const row = document.createElement("li");
      row.dataset.file = file.name;
      const name = document.createElement("span");
      name.textContent = file.name;
      const bar = document.createElement("progress");
      bar.max = 1; bar.value = 0;
      const status = document.createElement("span");
      status.className = "status";
      row.append(name, bar, status);
      list.append(row);
      return row;
    });
    form.querySelector("button[type=submit]").disabled = true;
    const results = [];
    for (let i = 0; i < files.length; i++) results.push(await uploadOne(files[i], rows[i]));
    form.querySelector("button[type=submit]").disabled = false;
    if (results.some(Boolean)) {
      // The list is the server's: show it as it now is, keeping each file's outcome.
      const response = await fetch(location.pathname, { credentials: "same-origin" });
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const table = fresh.getElementById("documents");
      if (table) { document.getElementById("documents").replaceWith(table); setUpDeletes(); localizeTimes(); }
    }
  });
  setUpDeletes();
}

function setUpDeletes() {
  for (const button of document.querySelectorAll("button[data-delete]")) {
    button.onclick = async () => {
      if (!confirm(words.confirm_delete)) return;
      button.disabled = true;
      try {
        await call("DELETE", `/documents/${encodeURIComponent(button.dataset.delete)}`);
        button.closest("tr").remove();
      } catch (error) {
        button.disabled = false;
        alert(`${words.failed}: ${error.message}`);
      }
    };
  }
}

// --- try it: questions in one conversation, with what each answer rested on ---
function setUpTry() {
  const form = document.getElementById("ask");
  if (!form) return;
  const chat = document.getElementById("chat");
  const key = `clerk-try-${business}`;
  // "try-": the inbox leaves these conversations out (TRY_PREFIX in src/http/web/mod.rs).
  const fresh = () => `try-${crypto.getRandomValues(new Uint32Array(2)).join("")}`;
  let conversation = sessionStorage.getItem(key) || fresh();
  sessionStorage.setItem(key, conversation);
  const bubble = (role, text) => {
    const div = document.createElement("div");
    div.className = `bubble ${role}`;
    const who = document.createElement("strong");
    who.textContent = words[role];
    const p = document.createElement("p");
    p.textContent = text;
    div.append(who, p);
    chat.append(div);
    return div;
  };
  document.getElementById("restart").onclick = () => {
    conversation = fresh();
    sessionStorage.setItem(key, conversation);
    chat.replaceChildren();
  };
  // An order's choices (confirm / change / cancel, or products to pick) are buttons that
  // send their id back, as a WhatsApp tap would.
  const ask = async (question, choice) => {
    bubble("customer", question);
    const waiting = bubble("assistant", words.working);
    try {
      const body = { question, conversation_id: conversation };
      if (choice) body.choice = choice;
      const answer = await call("POST", "/answer", body);
      waiting.querySelector("p").textContent = answer.text;
      waiting.dataset.mode = answer.mode;
      const meta = document.createElement("div");
      meta.className = "meta";
      const t = answer.timings || {};
      const line = document.createElement("div");
      line.textContent = `${words.mode}: ${answer.mode} · ${answer.language} · ${words.timings}: ` +
        `${Math.round(t.total_ms || 0)} ms (retrieve ${Math.round(t.retrieve_ms || 0)}, generate ${Math.round(t.generate_ms || 0)})`;
      meta.append(line);
      if (answer.sources && answer.sources.length) {
        const list = document.createElement("ul");
        for (const s of answer.sources) {
          const item = document.createElement("li");
          item.textContent = `${s.document}#${s.passage} — ${s.title}`;
          list.append(item);
        }
        const label = document.createElement("div");
        label.textContent = `${words.sources}:`;
        meta.append(label, list);
      }
      if (answer.needs_person) {
        const note = document.createElement("div");
        note.className = "handover";
        note.textContent = words.hand_over;
        meta.append(note);
      }
      const choices = (answer.order && answer.order.choices) || [];
      if (choices.length) {
        const row = document.createElement("div");
        row.className = "choices";
        for (const c of choices) {
          const button = document.createElement("button");
          button.type = "button";
          button.className = "choice";
          button.textContent = c.description ? `${c.title} (${c.description})` : c.title;
          button.onclick = () => ask(c.title, c.id);
          row.append(button);
        }
        waiting.append(row);
      }
      waiting.append(meta);
    } catch (error) {
      waiting.querySelector("p").textContent = `${words.failed}: ${error.message}`;
      waiting.classList.add("failed");
    }
  };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const field = form.querySelector("textarea");
    const question = field.value.trim();
    if (!question) return;
    field.value = "";
    ask(question);
  });
}

// --- inbox and conversation: live, and a person's reply ---
function setUpLive() {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const dot = document.querySelector(".dot");
  // One refresh at a time, and one more if a change came meanwhile: fragments never land
  // out of order.
  let running = false;
  let again = false;
  const refresh = async () => {
    if (running) { again = true; return; }
    running = true;
    try {
      do {
        again = false;
        const response = await fetch(live.dataset.live, { credentials: "same-origin" });
        if (response.status === 401) { location.assign("/app"); return; }
        if (response.ok) {
          live.innerHTML = await response.text();
          localizeTimes(live);
        }
      } while (again);
    } catch (_) {
      // Offline for a moment: the next change or reconnect refreshes.
    } finally {
      running = false;
    }
  };
  const events = new EventSource("/app/events");
  // The stream says what changed while it is open; after a reconnect, what changed while it
  // was down is fetched at once.
  let opened = false;
  events.onopen = () => {
    if (dot) dot.classList.add("on");
    live.dataset.connected = "yes";
    if (opened) refresh();
    opened = true;
  };
  events.onerror = () => { if (dot) dot.classList.remove("on"); };
  events.addEventListener("change", refresh);
}

function setUpReply() {
  const form = document.getElementById("reply");
  if (!form) return;
  const id = form.dataset.conversation;
  const status = document.getElementById("reply-status");
  // One key per reply as written: sending it again after a failed request sends it once.
  let key = null;
  let keyFor = null;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const field = form.querySelector("textarea");
    const text = field.value.trim();
    if (!text) return;
    if (keyFor !== text) { key = crypto.getRandomValues(new Uint32Array(4)).join("-"); keyFor = text; }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    show(status, words.working);
    try {
      await call("POST", `/conversations/${encodeURIComponent(id)}/reply`, { text }, { "Idempotency-Key": key });
      field.value = "";
      keyFor = null;
      show(status, words.sent);
    } catch (error) {
      show(status, `${words.failed}: ${error.message}`, true);
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("release").onclick = async () => {
    try {
      await call("POST", `/conversations/${encodeURIComponent(id)}/release`);
      show(status, words.released);
    } catch (error) {
      show(status, `${words.failed}: ${error.message}`, true);
    }
  };
}

// --- orders: the business's moves ---
function setUpOrders() {
  for (const button of document.querySelectorAll("[data-order] button[data-action]")) {
    button.onclick = async () => {
      const card = button.closest("[data-order]");
      const note = card.querySelector("input.note");
      const status = card.querySelector(".status");
      const body = note && note.value.trim() ? { note: note.value.trim() } : undefined;
      button.disabled = true;
      try {
        const order = await call("POST", `/orders/${encodeURIComponent(card.dataset.order)}/${button.dataset.action}`, body);
        card.dataset.state = order.state;
        show(status, words.done);
        location.reload();
      } catch (error) {
        button.disabled = false;
        show(status, `${words.failed}: ${error.message}`, true);
      }
    };
  }
}

// --- settings ---
function setUpSettings() {
  const privacy = document.getElementById("privacy");
  if (privacy) {
    privacy.addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = privacy.querySelector(".status");
      const disclosure = privacy.querySelector("[name=disclosure]").value.trim();
      const days = privacy.querySelector("[name=retention_days]").value.trim();
      const handoff = privacy.querySelector("[name=handoff_words]").value
        .split(",").map((w) => w.trim()).filter(Boolean);
      const templateName = privacy.querySelector("[name=order_template_name]").value.trim();
      const templateLanguages = privacy.querySelector("[name=order_template_languages]").value
        .split(",").map((l) => l.trim()).filter(Boolean);
      const pix = privacy.querySelector("[name=pix]").value.trim();
      try {
        // A PUT replaces every setting, so the form sends all of them.
        await call("PUT", "/settings", {
          disclosure: disclosure || null,
          retention_days: days === "" ? null : Number(days),
          handoff_words: handoff.length ? handoff : null,
          order_template: templateName ? { name: templateName, languages: templateLanguages } : null,
          pix: pix || null,
        });
        show(status, words.saved);
      } catch (error) {
        show(status, `${words.failed}: ${error.message}`, true);
      }
    });
  }
  const connect = document.getElementById("connect");
  if (connect) {
    connect.addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = connect.querySelector(".status");
      const value = (name) => connect.querySelector(`[name=${name}]`).value.trim();
      try {
        await call("PUT", "/whatsapp", {
          phone_number_id: value("phone_number_id"), access_token: value("access_token"),
          app_secret: value("app_secret"), verify_token: value("verify_token"),
        });
        show(status, words.saved);
        for (const input of connect.querySelectorAll("input[type=password]")) input.value = "";
      } catch (error) {
        show(status, `${words.failed}: ${error.message}`, true);
      }
    });
  }
  const erase = document.getElementById("erase");
  if (erase) {
    erase.addEventListener("submit", async (e) => {
      e.preventDefault();
      const status = erase.querySelector(".status");
      const customer = erase.querySelector("[name=customer]").value.trim();
      if (!customer || !confirm(words.confirm_erase)) return;
      try {
        const erased = await call("DELETE", `/customers/${encodeURIComponent(customer)}`);
        show(status, `${words.done}: ${JSON.stringify(erased)}`);
      } catch (error) {
        show(status, `${words.failed}: ${error.message}`, true);
      }
    });
  }
}

localizeTimes();
setUpDocuments();
setUpTry();
setUpLive();
setUpReply();
setUpOrders();
setUpSettings();
