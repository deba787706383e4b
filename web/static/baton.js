// Baton's page helpers: live lists, confirmations, "select all". Plain JS, no build step.
(function () {
  'use strict';
  const Baton = (window.Baton = window.Baton || {});

  // The session's CSRF token (_macros.html csrf_meta): every fetch that POSTs sends it (web/auth.py).
  Baton.csrfHeaders = function () {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? { 'X-CSRFToken': meta.content } : {};
  };

  Baton.poll = function (fn, ms) {
    let stopped = false;
    async function tick() {
      if (stopped) return;
      try { await fn(); } catch (e) { /* the server may be restarting: try again next tick */ }
      setTimeout(tick, document.hidden ? ms * 3 : ms);
    }
    setTimeout(tick, ms);
    return () => { stopped = true; };
  };

  // Lists: poll the global change token; when it moves, fetch this same URL and swap every
  // [data-live] region by id. A region holding the focus or ticked boxes is left alone. A list
  // with its own token names where to poll it in data-changes-url.
  function liveLists() {
    const regions = document.querySelectorAll('[data-live][id]');
    if (!regions.length) return;
    // The token the page was rendered at: a change between render and first poll still counts.
    let token = regions[0].dataset.token || null;
    Baton.poll(async () => {
      const r = await fetch(regions[0].dataset.changesUrl || '/ui/changes', { cache: 'no-store' });
      const next = (await r.json()).token;
      if (token === null) { token = next; return; }
      if (next === token) return;
      const page = await fetch(location.href, { cache: 'no-store' });
      const doc = new DOMParser().parseFromString(await page.text(), 'text/html');
      let skipped = false;
      regions.forEach((region) => {
        const fresh = doc.getElementById(region.id);
        if (!fresh) return;
        const busy = region.contains(document.activeElement) && document.activeElement !== document.body;
        if (busy || region.querySelector('input[type=checkbox]:checked')) { skipped = true; return; }
        region.innerHTML = fresh.innerHTML;
      });
      if (!skipped) token = next;
    }, 1000);
  }

  document.addEventListener('submit', (ev) => {
    // The button pressed may ask its own question (the instance list's Cancel), else the form.
    const msg = (ev.submitter && ev.submitter.getAttribute('data-confirm')) || ev.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  document.addEventListener('change', (ev) => {
    const name = ev.target.getAttribute('data-select-all');
    if (!name) return;
    // A box may belong to its form by the form="" attribute (the instance list's selection bar
    // sits outside the live table): form.elements holds those too.
    const form = ev.target.form || ev.target.closest('form');
    Array.from(form.elements).filter((box) => box.name === name && !box.disabled)
      .forEach((box) => { box.checked = ev.target.checked; });
  });
  document.addEventListener('DOMContentLoaded', liveLists);
})();
