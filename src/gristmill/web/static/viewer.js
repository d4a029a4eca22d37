// Live progress on a dataset's page: poll its unfinished work, move the bars, and reload
// the page once a piece of work has finished, so its result (a grade, a version) shows.
"use strict";
(function () {
  const section = document.querySelector("[data-poll]");
  if (!section || !section.querySelector("[data-activity-id]")) return;
  const url = section.getAttribute("data-poll");
  const seen = new Set(
    Array.from(section.querySelectorAll("[data-activity-id]"), (el) => el.getAttribute("data-activity-id"))
  );
  async function poll() {
    let body;
    try {
      const reply = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      // signed out meanwhile (the answer is the sign-in page): show it
      if (reply.redirected) return window.location.reload();
      if (!reply.ok) return setTimeout(poll, 3000);
      body = await reply.json();
    } catch (err) {
      return setTimeout(poll, 3000);
    }
    const now = new Map(body.activity.map((a) => [a.id, a]));
    for (const id of seen) {
      if (!now.has(id)) return window.location.reload();
    }
    for (const a of body.activity) {
      const el = section.querySelector(`[data-activity-id="${CSS.escape(a.id)}"]`);
      if (!el) return window.location.reload();
      const bar = el.querySelector("progress");
      if (a.total) { bar.max = a.total; bar.value = a.done; }
      el.querySelector(".status").textContent = a.status;
      el.querySelector(".count").textContent = `${a.done.toLocaleString("en-US")} / ${a.total === null ? "—" : a.total.toLocaleString("en-US")}`;
    }
    setTimeout(poll, 700);
  }
  setTimeout(poll, 700);
})();
