// Staff console: live queue rows and delivery states without reloading, canned replies into
// the answer box. Everything it inserts comes from the server already escaped (Jinja2).
"use strict";
(() => {
  const body = document.body;
  const pollMs = Math.max(1, Number(body.dataset.pollSeconds || 5)) * 1000;

  // Canned replies: picking one fills the answer box (it can still be edited).
  for (const select of document.querySelectorAll("select[data-fills]")) {
    select.addEventListener("change", () => {
      const option = select.selectedOptions[0];
      const target = document.getElementById(select.dataset.fills);
      if (option && option.dataset.text && target) target.value = option.dataset.text;
    });
  }

  // The hotline form: a corrected category brings its own department along (which can still
  // be changed after).
  for (const select of document.querySelectorAll("select[data-sets]")) {
    select.addEventListener("change", () => {
      const target = document.getElementById(select.dataset.sets);
      const department = select.selectedOptions[0]?.dataset.department;
      if (target) target.value = department || "";
    });
  }

  async function fetchOk(url, accept) {
    const response = await fetch(url, { headers: { Accept: accept }, credentials: "same-origin", cache: "no-store" });
    if (response.status === 401) { window.location.reload(); return null; }
    return response.ok ? response : null;
  }

  // The queue: swap in fresh rows, mark the ones that were not there before.
  const liveUrl = body.dataset.live;
  const rows = document.querySelector('[data-testid="queue-rows"]');
  if (liveUrl && rows) {
    const known = new Set([...rows.querySelectorAll("tr[data-number]")].map((tr) => tr.dataset.number));
    const fresh = new Set();
    const alert = document.querySelector('[data-testid="urgent-alert"]');
    const counts = document.querySelector('[data-testid="queue-counts"]');
    let urgentBefore = alert && !alert.hidden ? 1 : 0;
    const tick = async () => {
      try {
        const response = await fetchOk(liveUrl, "application/json");
        if (!response) return;
        const data = await response.json();
        rows.innerHTML = data.rows;
        for (const tr of rows.querySelectorAll("tr[data-number]")) {
          const number = tr.dataset.number;
          if (!known.has(number)) { fresh.add(number); known.add(number); }
          if (fresh.has(number)) { tr.classList.add("is-new"); tr.dataset.new = "1"; tr.querySelector(".badge.new")?.removeAttribute("hidden"); }
        }
        if (counts) counts.textContent = counts.dataset.template.replace("{total}", data.total).replace("{overdue}", data.overdue);
        if (alert) {
          alert.hidden = data.urgent_waiting === 0;
          alert.textContent = alert.dataset.template.replace("{count}", data.urgent_waiting);
          if (data.urgent_waiting > urgentBefore) { alert.classList.remove("flash"); void alert.offsetWidth; alert.classList.add("flash"); }
          urgentBefore = data.urgent_waiting;
        }
      } catch (_) { /* the network comes back; the next tick tries again */ }
    };
    setInterval(tick, pollMs);
  }

  // A case: refresh the thread so delivery states (sent, delivered, failed) show as they change.
  const threadUrl = body.dataset.thread;
  const thread = document.querySelector('[data-testid="thread"]');
  if (threadUrl && thread) {
    setInterval(async () => {
      try {
        const response = await fetchOk(threadUrl, "text/html");
        if (response) thread.innerHTML = await response.text();
      } catch (_) { /* try again on the next tick */ }
    }, Math.min(pollMs, 3000));
  }
})();
