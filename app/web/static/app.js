// bulkmail pages: live fragments by polling, live compose preview. No framework, no build step.
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // a notice about a state (<p class="notice" data-state="sending">Campaign launched.) goes once the state moves on
  function dropStaleNotices(el) {
    const state = el.querySelector("[data-state]")?.dataset.state;
    if (!state) return;
    document.querySelectorAll(".notice[data-state]").forEach((n) => { if (n.dataset.state !== state) n.remove(); });
  }

  // <div data-poll="/url" data-interval="1000">: the fragment at /url replaces the content until it says data-final
  function poll(el) {
    const every = parseInt(el.dataset.interval || "1000", 10);
    const tick = async () => {
      try {
        const r = await fetch(el.dataset.poll, { headers: { "X-Requested-With": "fetch" } });
        if (r.ok) {
          const html = await r.text();
          // never pull a focused button from under the keyboard; the next tick catches up
          if (!el.contains(document.activeElement) || html.includes("data-final")) el.innerHTML = html;
          dropStaleNotices(el);
          if (el.querySelector("[data-final]")) return;
        }
      } catch (e) { /* the server restarting: try again */ }
      setTimeout(tick, every);
    };
    if (!el.querySelector("[data-final]")) setTimeout(tick, every);
  }
  document.querySelectorAll("[data-poll]").forEach(poll);

  // <form data-preview="/url" data-target="#id">: the rendered preview follows the typing
  document.querySelectorAll("form[data-preview]").forEach((form) => {
    const target = document.querySelector(form.dataset.target);
    let timer = null;
    const refresh = async () => {
      const r = await fetch(form.dataset.preview, { method: "POST", body: new FormData(form), headers: { "X-CSRF-Token": csrf } });
      target.innerHTML = await r.text();
    };
    form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    refresh();
  });

  // <form data-guard [data-unsaved]>: leaving the page with changes not yet submitted asks first
  document.querySelectorAll("form[data-guard]").forEach((form) => {
    let dirty = form.hasAttribute("data-unsaved");
    form.addEventListener("input", () => { dirty = true; });
    form.addEventListener("submit", () => { dirty = false; }); // the answer shows the fields again, or saved them
    window.addEventListener("beforeunload", (e) => {
      if (dirty) { e.preventDefault(); e.returnValue = ""; }
    });
  });
})();
