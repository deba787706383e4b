// The decision page: dmn-js draws the decision table; the rules the selected evaluation matched
// (data-rules, from the history) get the class "baton-matched" on every cell of their row.
(function () {
  'use strict';
  const container = document.getElementById('decision-table');
  const matched = JSON.parse(container.dataset.rules || '[]');
  const viewer = new DmnJS({ container });
  window.batonDecision = viewer; // for tests and the curious

  function highlight() {
    matched.forEach((ruleId) => {
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
