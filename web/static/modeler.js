// The modeler page: bpmn-js Modeler, a tiny properties box (id, name, service task topic) and
// deploy. Refusals come back per element and are drawn on the canvas; success lands on the
// definition page.
(function () {
  'use strict';
  const container = document.getElementById('modeler');
  const problemsBox = document.getElementById('modeler-problems');
  const modeler = new BpmnJS({ container });
  window.batonModeler = modeler; // for tests and the curious
  const canvas = modeler.get('canvas');
  const modeling = modeler.get('modeling');
  const overlays = modeler.get('overlays');
  const registry = modeler.get('elementRegistry');
  const esc = (t) => String(t == null ? '' : t).replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  let marked = [];

  fetch(container.dataset.source)
    .then((r) => { if (!r.ok) throw new Error(`${container.dataset.source} answered ${r.status}`); return r.text(); })
    .then((xml) => modeler.importXML(xml))
    .then(() => {
      if (canvas.zoom('fit-viewport', 'auto') > 1) canvas.zoom(1, 'auto');
      container.dataset.ready = '1';
      select(null);
    })
    .catch((e) => { problemsBox.innerHTML = `<div class="flash flash-error">Cannot open the diagram: ${esc(e.message)}</div>`; });

  // -- properties ---------------------------------------------------------------------------
  const idInput = document.getElementById('prop-id');
  const nameInput = document.getElementById('prop-name');
  const topicRow = document.getElementById('prop-topic-row');
  const topicInput = document.getElementById('prop-topic');
  let current = null;

  function select(element) {
    current = element || canvas.getRootElement();
    const bo = current.businessObject;
    idInput.disabled = nameInput.disabled = !bo;
    idInput.value = (bo && bo.id) || '';
    nameInput.value = (bo && bo.name) || '';
    const isService = current.type === 'bpmn:ServiceTask';
    topicRow.hidden = !isService;
    topicInput.value = isService ? (bo.get('camunda:topic') || '') : '';
  }

  modeler.get('eventBus').on('selection.changed', (ev) => select(ev.newSelection.length === 1 ? ev.newSelection[0] : null));
  idInput.addEventListener('change', () => {
    if (!current || !idInput.value.trim()) return;
    try { modeling.updateProperties(current, { id: idInput.value.trim() }); } catch (e) { idInput.value = current.businessObject.id; }
  });
  nameInput.addEventListener('change', () => current && modeling.updateProperties(current, { name: nameInput.value }));
  topicInput.addEventListener('change', () => {
    if (!current) return;
    const topic = topicInput.value.trim();
    modeling.updateProperties(current, { 'camunda:type': topic ? 'external' : undefined, 'camunda:topic': topic || undefined });
  });

  // -- deploy -------------------------------------------------------------------------------
  function clearMarks() {
    overlays.remove({ type: 'baton' });
    marked.forEach((id) => registry.get(id) && canvas.removeMarker(id, 'baton-failed'));
    marked = [];
  }

  function showProblems(problems) {
    problemsBox.innerHTML = '<section class="card refusals" id="refusals"><h3>Deployment refused: nothing was deployed</h3>' +
      '<table><thead><tr><th>Element</th><th>Reason</th><th>Line</th></tr></thead><tbody>' +
      problems.map((p) => `<tr class="refusal" data-element-id="${esc(p.element_id || '')}"><td class="mono">${esc(p.element_id || '—')}</td>` +
        `<td>${esc(p.reason)}</td><td>${esc(p.line || '')}</td></tr>`).join('') + '</tbody></table></section>';
    problems.forEach((p) => {
      if (!p.element_id || !registry.get(p.element_id)) return;
      canvas.addMarker(p.element_id, 'baton-failed');
      marked.push(p.element_id);
      overlays.add(p.element_id, 'baton', { position: { bottom: -24, left: 0 }, html: `<div class="baton-refusal">${esc(p.reason)}</div>` });
    });
  }

  document.getElementById('modeler-deploy').addEventListener('click', async (ev) => {
    const button = ev.currentTarget;
    button.disabled = true;
    clearMarks();
    problemsBox.innerHTML = '';
    try {
      const { xml } = await modeler.saveXML({ format: true });
      const root = canvas.getRootElement().businessObject;
      const fileName = ((root && root.id) || 'diagram') + '.bpmn';
      const response = await fetch(container.dataset.deployUrl, {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, Baton.csrfHeaders()),
        body: JSON.stringify({ xml, file_name: fileName }),
      });
      const body = await response.json();
      if (body.redirect) { window.location.href = body.redirect; return; }
      showProblems(body.problems || [{ reason: `the server answered ${response.status}` }]);
    } catch (e) {
      showProblems([{ reason: String(e.message || e) }]);
    } finally {
      button.disabled = false;
    }
  });
})();
