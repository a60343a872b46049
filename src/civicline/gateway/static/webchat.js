// Citizen web chat: sends messages, polls the conversation, acknowledges rendered replies.
"use strict";
(() => {
  const API = "/api/v1/webchat";
  const POLL_MS = 2000;
  const LANG_KEY = "civicline.webchat.lang";
  const JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };

  const STRINGS = {
    zh: {
      title: "12345 市民诉求 · 在线留言",
      intro: "请描述您遇到的问题，以及发生的地点和时间。提交后您会收到案件编号，相关部门的答复将显示在这里。",
      toggle: "EN", toggleLabel: "Switch to English", listLabel: "对话记录", inputLabel: "留言内容",
      placeholder: "请输入您的诉求（Shift+Enter 换行）", send: "发送",
      you: "我：", gov: "12345 答复：", caseNo: "案件编号", st_sending: "发送中…", st_sent: "已发送",
      errEmpty: "请先输入留言内容。",
      errNetwork: "网络连接失败，内容已保留，请稍后再点“发送”重试。",
      errGeneric: "发送失败（{status}），请稍后重试。",
    },
    en: {
      title: "City Hotline 12345 · Web chat",
      intro: "Describe the problem, where it is and when it happened. You will get a case number, and replies from the department will appear here.",
      toggle: "中文", toggleLabel: "切换到中文", listLabel: "Conversation", inputLabel: "Your message",
      placeholder: "Type your message (Shift+Enter for a new line)", send: "Send",
      you: "You:", gov: "City Hotline 12345:", caseNo: "Case no.", st_sending: "Sending…", st_sent: "Sent",
      errEmpty: "Please type a message first.",
      errNetwork: "Network error. Your text is kept; press Send to try again.",
      errGeneric: "Could not send ({status}). Please try again later.",
    },
  };

  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const list = byTestId("message-list");
  const input = byTestId("message-input");
  const sendButton = byTestId("send-button");
  const errorLine = byTestId("error");
  const toggle = byTestId("lang-toggle");
  const form = document.getElementById("composer");

  const bubbles = new Map(); // server message id ("in-12", "out-5") -> <li>
  const acknowledged = new Set(); // outbound ids whose receipt was posted this page load
  let lang = readStoredLang() || (document.documentElement.lang === "en" ? "en" : "zh");
  let pending = null; // { id, text }: last attempt that did not go through, reused on retry
  let sending = false;
  let polling = false;
  let pollAgain = false;
  let timer = null;

  function readStoredLang() {
    try {
      const v = localStorage.getItem(LANG_KEY);
      return v === "zh" || v === "en" ? v : null;
    } catch { return null; }
  }

  const t = (key) => STRINGS[lang][key] ?? key;

  function applyLang() {
    document.documentElement.lang = lang;
    document.title = t("title");
    toggle.lang = lang === "zh" ? "en" : "zh";
    input.placeholder = t("placeholder");
    for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
    for (const el of list.querySelectorAll("time")) el.textContent = formatTime(el.dateTime);
  }

  function formatTime(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return "";
    const today = d.toDateString() === new Date().toDateString();
    const opts = today ? { hour: "2-digit", minute: "2-digit" }
      : { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" };
    return d.toLocaleString(lang === "zh" ? "zh-CN" : "en", opts);
  }

  function i18nSpan(key, className) {
    const span = document.createElement("span");
    span.className = className;
    span.dataset.i18n = key;
    span.textContent = t(key);
    return span;
  }

  function createBubble(direction) {
    const li = document.createElement("li");
    li.className = `message ${direction}`;
    li.setAttribute("data-testid", "message");
    li.dataset.direction = direction;
    const text = document.createElement("div");
    text.className = "text";
    text.setAttribute("data-testid", "message-text");
    const meta = document.createElement("div");
    meta.className = "meta";
    meta.append(document.createElement("time"));
    if (direction === "inbound") meta.append(i18nSpan("st_sending", "status"));
    li.append(i18nSpan(direction === "inbound" ? "you" : "gov", "sr-only"), text, meta);
    return li;
  }

  function updateBubble(li, m) {
    li.dataset.status = m.status;
    const text = li.querySelector(".text");
    if (text.textContent !== m.text) text.textContent = m.text; // never innerHTML: citizens may type markup
    const time = li.querySelector("time");
    if (time.dateTime !== m.created_at) {
      time.dateTime = m.created_at;
      time.textContent = formatTime(m.created_at);
    }
    const status = li.querySelector(".status");
    if (status) {
      status.dataset.i18n = m.status === "sending" ? "st_sending" : "st_sent";
      status.textContent = t(status.dataset.i18n);
    }
    let badge = li.querySelector(".case");
    if (m.case_number && !badge) {
      badge = document.createElement("div");
      badge.className = "case";
      badge.setAttribute("data-testid", "case-number");
      const num = document.createElement("span");
      num.className = "case-num";
      badge.append(i18nSpan("caseNo", "case-label"), " ", num);
      li.querySelector(".meta").before(badge);
    }
    if (badge && !m.case_number) badge.remove();
    else if (badge) badge.querySelector(".case-num").textContent = m.case_number;
  }

  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  const scrollDown = () => { list.scrollTop = list.scrollHeight; };

  function render(messages) {
    const stick = nearBottom();
    let prev = null;
    let added = false;
    const toAck = [];
    for (const m of messages) {
      let li = bubbles.get(m.id);
      if (!li) {
        li = createBubble(m.direction);
        bubbles.set(m.id, li);
        added = true;
      }
      updateBubble(li, m);
      const ref = prev ? prev.nextSibling : list.firstChild;
      if (ref !== li) list.insertBefore(li, ref); // keep server order; local pending bubbles stay last
      prev = li;
      const n = Number(String(m.id).split("-")[1]);
      if (m.direction === "outbound" && m.status !== "delivered" && Number.isInteger(n) && !acknowledged.has(n)) {
        toAck.push(n);
      }
    }
    if (added && stick) scrollDown();
    if (toAck.length) acknowledge(toAck);
  }

  async function acknowledge(ids) {
    ids.forEach((n) => acknowledged.add(n));
    try {
      const r = await fetch(`${API}/receipts`, { method: "POST", headers: JSON_HEADERS, body: JSON.stringify({ ids }) });
      if (!r.ok) throw new Error(String(r.status));
    } catch {
      ids.forEach((n) => acknowledged.delete(n)); // retried on the next poll
    }
  }

  async function poll() {
    clearTimeout(timer);
    timer = null;
    if (document.hidden) return;
    if (polling || sending) { pollAgain = true; return; } // send() polls when it finishes
    polling = true;
    try {
      const r = await fetch(`${API}/messages`, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (r.ok) render((await r.json()).messages || []);
    } catch { /* offline: the next poll tries again */ }
    polling = false;
    if (!document.hidden && !sending) timer = setTimeout(poll, pollAgain ? 0 : POLL_MS);
    pollAgain = false;
  }

  function showError(message, key) {
    errorLine.textContent = message;
    if (key) errorLine.dataset.i18n = key; else delete errorLine.dataset.i18n;
    errorLine.hidden = false;
  }

  function clearError() {
    errorLine.hidden = true;
    errorLine.textContent = "";
    delete errorLine.dataset.i18n;
  }

  function errorText(detail, status) {
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail)) { // FastAPI validation errors
      const msgs = detail.map((d) => d && d.msg).filter(Boolean);
      if (msgs.length) return msgs.join("; ");
    }
    return t("errGeneric").replace("{status}", String(status));
  }

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; plain-http deployments fall back to getRandomValues.
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, (c) =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
  }

  async function send() {
    if (sending) return;
    const text = input.value;
    if (!text.trim()) { showError(t("errEmpty"), "errEmpty"); input.focus(); return; }
    if (!pending || pending.text !== text) pending = { id: newId(), text };
    const { id } = pending;
    sending = true;
    sendButton.disabled = true;
    input.readOnly = true;
    clearError();
    const local = createBubble("inbound"); // not in `bubbles` until the server gives it an id
    updateBubble(local, { text, status: "sending", created_at: new Date().toISOString(), case_number: null });
    list.append(local);
    scrollDown();
    try {
      const r = await fetch(`${API}/messages`, {
        method: "POST",
        headers: JSON_HEADERS,
        body: JSON.stringify({ client_message_id: id, text, language: lang }),
      });
      const body = await r.json().catch(() => ({}));
      if (r.ok) {
        const key = `in-${body.message_id}`;
        if (body.message_id == null || bubbles.has(key)) local.remove();
        else {
          bubbles.set(key, local);
          updateBubble(local, { text, status: "received", created_at: local.querySelector("time").dateTime, case_number: null });
        }
        input.value = "";
        pending = null;
      } else {
        local.remove();
        if (r.status < 500) pending = null; // rejected, not stored: a retry is a new message
        showError(errorText(body.detail, r.status));
      }
    } catch {
      local.remove(); // the server may have stored it: retrying reuses the same client_message_id
      showError(t("errNetwork"), "errNetwork");
    } finally {
      sending = false;
      sendButton.disabled = false;
      input.readOnly = false;
      input.focus();
      poll();
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); send(); });
  input.addEventListener("keydown", (e) => {
    // isComposing / 229: Enter that confirms a Chinese IME candidate must not send.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      send();
    }
  });
  input.addEventListener("input", () => { if (!errorLine.hidden) clearError(); });
  toggle.addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    try { localStorage.setItem(LANG_KEY, lang); } catch { /* storage disabled: choice lasts this page */ }
    applyLang();
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) { clearTimeout(timer); timer = null; } else poll();
  });

  applyLang();
  poll();
})();
