// The instance page: draws the diagram state, follows changes (poll every second), shows an
// element's history on click. Panels arrive as HTML from the server; this only swaps them.
(function () {
  'use strict';
  const page = document.getElementById('instance-page');
  const container = document.getElementById('instance-diagram');
  const pendingToggle = document.getElementById('pending-toggle');
  const showPending = document.getElementById('show-pending');
  const elementPanel = document.getElementById('panel-element');
  let state = JSON.parse(document.getElementById('diagram-state').textContent);
  let token = page.dataset.token;
  let ready = false;
  let selected = null;
  const viewer = Baton.viewer(container);
  const ENDED = ['completed', 'cancelled', 'terminated', 'compensated'];

  function compSummary() {
    const box = document.getElementById('comp-summary');
    const comp = state.compensation;
    const steps = (comp && comp.executed) || [];
    box.hidden = !steps.length;
    if (!steps.length) return;
    const registry = viewer.get('elementRegistry');
    const name = (id) => { const el = registry.get(id); return (el && el.businessObject.name) || id; };
    const runs = {};
    steps.forEach((s) => { runs[s.activity] = (runs[s.activity] || 0) + 1; });
    box.innerHTML = '<strong>Compensation path</strong> <span class="muted">(handlers in the order they ran)</span><ol>' +
      steps.map((s) => `<li data-handler="${Baton.esc(s.handler)}">${Baton.esc(name(s.handler))} undid ` +
        `${Baton.esc(name(s.activity))}${runs[s.activity] > 1 ? ' (iteration ' + s.iteration + ')' : ''} ` +
        `<span class="muted">${s.status}${s.ended_at ? ' ' + s.ended_at.replace('T', ' ').slice(0, 19) : ''}</span></li>`).join('') +
      '</ol>';
  }

  // Cancelled elements and caught BPMN errors say so in words too: a colour alone is easy to misread.
  function badges() {
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    const words = { cancelled: 'cancelled', caught: 'error caught' };
    Object.entries(state.elements || {}).forEach(([id, info]) => {
      if (!words[info.state] || !registry.get(id)) return;
      overlays.add(id, 'baton', { position: { top: -12, right: 8 },
        html: `<span class="baton-state-badge ${info.state}" data-state="${info.state}">${words[info.state]}</span>` });
    });
  }

  function paint() {
    if (!ready) return;
    Baton.paint(viewer, state);
    badges();
    const comp = state.compensation;
    const canPend = !!(comp && comp.pending && comp.pending.length && !ENDED.includes(state.status));
    pendingToggle.hidden = !canPend;
    Baton.paintPending(viewer, comp, canPend && showPending.checked);
    compSummary();
    container.dataset.painted = state.token || token;
  }

  Baton.loadUrl(viewer, container.dataset.xml)
    .then(() => { ready = true; paint(); container.dataset.ready = '1'; })
    .catch((e) => { container.innerHTML = `<p class="error">The diagram cannot be drawn: ${Baton.esc(e.message)}</p>`; });

  showPending.addEventListener('change', paint);
  document.getElementById('fit').addEventListener('click', () => Baton.fit(viewer));

  // Follow the instance: the server answers {changed:false} until its token moves.
  Baton.poll(async () => {
    const response = await fetch(`${page.dataset.liveUrl}?token=${encodeURIComponent(token)}`, { cache: 'no-store' });
    if (!response.ok) return;
    const data = await response.json();
    if (!data.changed) return;
    let skipped = false;
    Object.keys(data.panels).forEach((name) => {
      const el = document.getElementById('panel-' + name);
      if (!el) return;
      // Never wipe what the operator is typing; take the update on a later tick instead.
      const typing = el.contains(document.activeElement) && document.activeElement !== document.body;
      // a box with a value that is only its option (a checkbox's) counts once it is ticked
      const filled = [...el.querySelectorAll('textarea, input:not([type=hidden]), select')].some((f) =>
        (f.type === 'checkbox' || f.type === 'radio') ? f.checked : f.value);
      if (typing || filled) { skipped = true; return; }
      el.innerHTML = data.panels[name];
    });
    state = data.state;
    paint();
    if (selected) showElement(selected, false);
    if (!skipped) { token = data.token; page.dataset.token = token; }
  }, 1000);

  async function showElement(id, scroll) {
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    if (selected && registry.get(selected)) canvas.removeMarker(selected, 'baton-selected');
    selected = id;
    if (registry.get(id)) canvas.addMarker(id, 'baton-selected');
    const response = await fetch(`${page.dataset.historyUrl}?element=${encodeURIComponent(id)}`, { cache: 'no-store' });
    const el = registry.get(id);
    document.getElementById('element-name').textContent = (el && el.businessObject.name) ? `${el.businessObject.name} (${id})` : id;
    document.getElementById('element-rows').innerHTML = await response.text();
    elementPanel.hidden = false;
    elementPanel.dataset.element = id;
    if (scroll) elementPanel.scrollIntoView({ block: 'nearest' });
  }

  function closeElement() {
    if (selected && viewer.get('elementRegistry').get(selected)) viewer.get('canvas').removeMarker(selected, 'baton-selected');
    selected = null;
    elementPanel.hidden = true;
  }

  viewer.get('eventBus').on('element.click', (ev) => {
    const el = ev.element.labelTarget || ev.element;
    if (!el.parent || el.type === 'bpmn:Process' || el.type === 'bpmn:Collaboration') { closeElement(); return; }
    showElement(el.id, true);
  });
  document.getElementById('element-close').addEventListener('click', closeElement);

  document.addEventListener('click', async (ev) => {
    const link = ev.target.closest('a.element-link');
    if (link) { ev.preventDefault(); showElement(link.dataset.element, true); return; }
    const older = ev.target.closest('button[data-older]');
    if (older) {
      const row = older.closest('tr');
      const html = await (await fetch(older.dataset.older, { cache: 'no-store' })).text();
      row.insertAdjacentHTML('afterend', html);
      row.remove();
    }
  });
})();
