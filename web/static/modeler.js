// The modeler page: bpmn-js's Modeler with the bpmn.io properties panel (Camunda 7 properties, or
// Zeebe's for a diagram in Zeebe's dialect: web/bundles/modeler.js), open and save local files,
// and deploy. Refusals come back per element and are drawn on the canvas; success lands on the
// definition page.
(function () {
  'use strict';
  const container = document.getElementById('modeler');
  const panel = document.getElementById('properties-panel');
  const problemsBox = document.getElementById('modeler-problems');
  const sourceLabel = document.getElementById('modeler-source');
  const dialectLabel = document.getElementById('modeler-dialect');
  const esc = (t) => String(t == null ? '' : t).replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  let modeler = null;
  let marked = [];

  function flashError(text) {
    problemsBox.innerHTML = `<div class="flash flash-error">${esc(text)}</div>`;
  }

  // A diagram's dialect decides the moddle and the panel, so each opened diagram gets a modeler
  // made for it (the old one is destroyed with its panel).
  async function open(xml, label) {
    delete container.dataset.ready;
    problemsBox.innerHTML = '';
    if (modeler) modeler.destroy();
    marked = [];
    const made = window.BatonModelerKit.createModeler({ container, propertiesParent: panel }, xml);
    modeler = made.modeler;
    window.batonModeler = modeler; // for tests and the curious
    container.dataset.dialect = made.dialect;
    dialectLabel.textContent = made.dialect === 'zeebe' ? 'Zeebe (Camunda 8) properties' : 'Camunda 7 properties';
    const { warnings } = await modeler.importXML(xml);
    const canvas = modeler.get('canvas');
    if (canvas.zoom('fit-viewport', 'auto') > 1) canvas.zoom(1, 'auto');
    if (label) sourceLabel.textContent = label;
    if (warnings.length) {
      flashError(`Opened with ${warnings.length} warning(s): ${warnings.map((w) => w.message).slice(0, 3).join('; ')}`);
    }
    container.dataset.ready = '1';
  }

  fetch(container.dataset.source)
    .then((r) => { if (!r.ok) throw new Error(`${container.dataset.source} answered ${r.status}`); return r.text(); })
    .then((xml) => open(xml))
    .catch((e) => flashError(`Cannot open the diagram: ${e.message}`));

  // -- local files --------------------------------------------------------------------------
  document.getElementById('modeler-open-file').addEventListener('change', async (ev) => {
    const file = ev.target.files && ev.target.files[0];
    if (!file) return;
    try {
      await open(await file.text(), file.name);
      container.dataset.fileName = file.name;
    } catch (e) {
      flashError(`Cannot open ${file.name}: ${e.message}`);
    } finally {
      ev.target.value = '';
    }
  });

  function fileName() {
    const root = modeler.get('canvas').getRootElement().businessObject;
    const processId = root && root.$type === 'bpmn:Process' ? root.id : null;
    return processId ? `${processId}.bpmn` : (container.dataset.fileName || 'diagram.bpmn');
  }

  document.getElementById('modeler-save').addEventListener('click', async () => {
    try {
      const { xml } = await modeler.saveXML({ format: true });
      const link = document.createElement('a');
      link.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
      link.download = fileName();
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (e) {
      flashError(`Cannot save the diagram: ${e.message}`);
    }
  });

  // -- deploy -------------------------------------------------------------------------------
  function clearMarks() {
    const overlays = modeler.get('overlays');
    const registry = modeler.get('elementRegistry');
    overlays.remove({ type: 'baton' });
    marked.forEach((id) => registry.get(id) && modeler.get('canvas').removeMarker(id, 'baton-failed'));
    marked = [];
  }

  function showProblems(problems) {
    const registry = modeler.get('elementRegistry');
    problemsBox.innerHTML = '<section class="card refusals" id="refusals"><h3>Deployment refused: nothing was deployed</h3>' +
      '<table><thead><tr><th>Element</th><th>Reason</th><th>Line</th></tr></thead><tbody>' +
      problems.map((p) => `<tr class="refusal" data-element-id="${esc(p.element_id || '')}"><td class="mono">${esc(p.element_id || '—')}</td>` +
        `<td>${esc(p.reason)}</td><td>${esc(p.line || '')}</td></tr>`).join('') + '</tbody></table></section>';
    problems.forEach((p) => {
      if (!p.element_id || !registry.get(p.element_id)) return;
      modeler.get('canvas').addMarker(p.element_id, 'baton-failed');
      marked.push(p.element_id);
      // above the element (baton.css .above), where no label of bpmn-js's is drawn
      modeler.get('overlays').add(p.element_id, 'baton', { position: { top: -6, left: 0 },
        html: `<div class="baton-refusal above">${esc(p.reason)}</div>` });
    });
  }

  document.getElementById('modeler-deploy').addEventListener('click', async (ev) => {
    const button = ev.currentTarget;
    button.disabled = true;
    clearMarks();
    problemsBox.innerHTML = '';
    try {
      const { xml } = await modeler.saveXML({ format: true });
      const response = await fetch(container.dataset.deployUrl, {
        method: 'POST', headers: Object.assign({ 'Content-Type': 'application/json' }, Baton.csrfHeaders()),
        body: JSON.stringify({ xml, file_name: fileName() }),
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
