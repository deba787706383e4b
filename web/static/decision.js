// The decision page: dmn-js draws the decision table; the rules the selected evaluation matched
// (from the history) get the class "baton-matched" on every cell of their row. A rule is found by
// its row number (data-rows, 1-based): a rule the DMN file gives no id gets one from dmn-js that
// the run never saw, but the order of the rules is the file's either way.
(function () {
  'use strict';
  const container = document.getElementById('decision-table');
  const rows = JSON.parse(container.dataset.rows || '[]');
  const viewer = new DmnJS({ container });
  window.batonDecision = viewer; // for tests and the curious

  function highlight() {
    const ruleIds = [];
    container.querySelectorAll('.tjs-table tbody td[data-row-id]').forEach((cell) => {
      if (!ruleIds.includes(cell.dataset.rowId)) ruleIds.push(cell.dataset.rowId);
    });
    rows.forEach((row) => {
      const ruleId = ruleIds[row - 1];
      if (!ruleId) return;
      container.querySelectorAll(`[data-row-id="${CSS.escape(ruleId)}"]`).forEach((cell) => {
        cell.classList.add('baton-matched');
        if (cell.parentElement) cell.parentElement.classList.add('baton-matched-row');
      });
    });
    container.dataset.highlighted = String(container.querySelectorAll('tr.baton-matched-row').length);
  }

  fetch(container.dataset.source)
    .then((r) => { if (!r.ok) throw new Error(`${container.dataset.source} answered ${r.status}`); return r.text(); })
    .then((xml) => viewer.importXML(xml))
    .then(() => {
      // a DMN file with a diagram (DRD) opens on it: show this decision's table instead
      const view = viewer.getViews().find((v) => v.type === 'decisionTable' && v.element.id === container.dataset.decisionId);
      return view && viewer.getActiveView() !== view ? viewer.open(view) : null;
    })
    .then(() => { highlight(); container.dataset.ready = '1'; })
    .catch((e) => {
      container.innerHTML = '';
      const p = document.createElement('p');
      p.className = 'flash flash-error';
      p.textContent = `Cannot draw the decision table: ${e.message}`;
      container.appendChild(p);
    });
})();
