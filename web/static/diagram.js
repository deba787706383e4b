// Drawing on bpmn-js: the instance's state markers, counts, taken flows and the compensation
// path; refusals on an uploaded diagram; a bare render page. Needs the viewer's global BpmnJS.
(function () {
  'use strict';
  const Baton = (window.Baton = window.Baton || {});
  // Every marker Baton sets; 'baton-selected' is the click highlight and survives a repaint.
  const MARKERS = ['baton-completed', 'baton-active', 'baton-failed', 'baton-cancelled', 'baton-compensated',
    'baton-compensating', 'baton-compensation-handler', 'baton-taken', 'baton-comp-link', 'baton-caught'];

  const esc = (Baton.esc = (text) => String(text == null ? '' : text).replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]));

  Baton.viewer = (container) => new BpmnJS({ container });

  Baton.fit = function (viewer) {
    const canvas = viewer.get('canvas');
    // Small diagrams would be blown up by fit-viewport: never zoom in past 100%.
    if (canvas.zoom('fit-viewport', 'auto') > 1) canvas.zoom(1, 'auto');
  };

  // bpmn-js draws what it can of a broken file (a flow without sourceRef...) and both returns
  // each skipped element as a warning and console.error()s it. Those are facts about the file,
  // shown beside the diagram; any other console error during the import still goes through.
  Baton.load = async function (viewer, xml) {
    const original = console.error;
    const held = [];
    console.error = (...args) => held.push(args);
    let result;
    try {
      result = await viewer.importXML(xml);
    } finally {
      console.error = original;
    }
    const known = new Set(result.warnings.map((w) => w.message));
    held.forEach((args) => {
      const first = args[0];
      const isWarning = (typeof first === 'string' && first.startsWith('failed to import')) ||
        (first instanceof Error && known.has(first.message));
      if (!isWarning) original.apply(console, args);
    });
    Baton.fit(viewer);
    showWarnings(viewer, result.warnings);
    return result;
  };

  function showWarnings(viewer, warnings) {
    const container = viewer.get('canvas').getContainer().parentNode;
    let box = container.querySelector('.import-warnings');
    if (!box) {
      box = document.createElement('div');
      box.className = 'import-warnings';
      container.appendChild(box);
    }
    box.hidden = !warnings.length;
    box.innerHTML = warnings.length ? `<details><summary>${warnings.length} part(s) of this file could not be drawn</summary>` +
      `<ul>${warnings.slice(0, 50).map((w) => `<li>${esc(w.message)}</li>`).join('')}</ul></details>` : '';
  }

  Baton.loadUrl = async function (viewer, url) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    return Baton.load(viewer, await response.text());
  };

  function nameOf(registry, id) {
    const el = registry.get(id);
    return (el && el.businessObject && el.businessObject.name) || id;
  }

  // state: {elements: {id: {state, runs, first_completed, last_entered}}, compensation: {...}|null}
  Baton.paint = function (viewer, state) {
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    registry.getAll().forEach((el) => MARKERS.forEach((m) => canvas.hasMarker(el, m) && canvas.removeMarker(el, m)));
    overlays.remove({ type: 'baton' });
    const elements = state.elements || {};
    Object.keys(elements).forEach((id) => {
      const info = elements[id];
      if (!registry.get(id)) return;
      canvas.addMarker(id, 'baton-' + info.state);
      if (info.runs > 1) {
        overlays.add(id, 'baton', { position: { top: -10, right: 12 },
          html: `<span class="baton-count" title="ran ${info.runs} times">×${info.runs}</span>` });
      }
    });
    // A flow was taken when its source completed before its target was (last) entered.
    registry.filter((el) => el.type === 'bpmn:SequenceFlow').forEach((flow) => {
      const s = flow.source && elements[flow.source.id];
      const t = flow.target && elements[flow.target.id];
      if (s && t && s.first_completed != null && t.last_entered != null && s.first_completed < t.last_entered) {
        canvas.addMarker(flow, 'baton-taken');
      }
    });
    (state.incidents || []).forEach((id) => {
      if (registry.get(id)) {
        overlays.add(id, 'baton', { position: { top: -10, left: -10 },
          html: '<span class="baton-incident-flag" title="open incident">!</span>' });
      }
    });
    paintChildren(viewer, state.children);
    paintCompensation(viewer, state.compensation);
  };

  // A call activity links to the instance it started (several: to the page's list of them).
  function paintChildren(viewer, children) {
    const registry = viewer.get('elementRegistry');
    const called = {};
    (children || []).forEach((c) => { if (c.element_id) (called[c.element_id] = called[c.element_id] || []).push(c); });
    Object.keys(called).forEach((id) => {
      if (!registry.get(id)) return;
      const list = called[id];
      const one = list.length === 1 ? list[0] : null;
      const href = one ? one.url : '#panel-children';
      const text = one ? `${one.key} ${one.id.slice(0, 8)}` : `${list.length} called instances`;
      viewer.get('overlays').add(id, 'baton', { position: { bottom: -4, left: 0 },
        html: `<a class="baton-child-link status-${esc(one ? one.status : '')}" href="${esc(href)}"` +
          `${one ? ` data-child-id="${esc(one.id)}"` : ''} title="the called instance">▸ ${esc(text)}</a>` });
    });
  }

  function paintCompensation(viewer, comp) {
    if (!comp) return;
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    const perHandler = {};
    const perActivity = {};
    (comp.executed || []).forEach((s) => { perActivity[s.activity] = (perActivity[s.activity] || 0) + 1; });
    (comp.executed || []).forEach((step) => {
      if (registry.get(step.activity)) {
        canvas.addMarker(step.activity, step.status === 'compensating' ? 'baton-compensating' : 'baton-compensated');
      }
      if (!registry.get(step.handler)) return;
      canvas.addMarker(step.handler, 'baton-compensation-handler');
      registry.filter((el) => el.type === 'bpmn:Association' && el.target && el.target.id === step.handler)
        .forEach((link) => canvas.addMarker(link, 'baton-comp-link'));
      const k = (perHandler[step.handler] = (perHandler[step.handler] || 0) + 1);
      const title = `step ${step.position}: ${nameOf(registry, step.handler)} undid ${nameOf(registry, step.activity)}` +
        (perActivity[step.activity] > 1 ? ` (iteration ${step.iteration})` : '') + (step.status === 'compensating' ? ', running' : '');
      overlays.add(step.handler, 'baton', { position: { top: -12, left: -12 + (k - 1) * 26 },
        html: `<span class="baton-comp-step${step.status === 'compensating' ? ' running' : ''}" ` +
          `data-position="${step.position}" data-activity="${esc(step.activity)}" title="${esc(title)}">${step.position}</span>` });
    });
  }

  // The pending path: what would be undone if the instance failed now, in order.
  Baton.paintPending = function (viewer, comp, show) {
    const canvas = viewer.get('canvas');
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    overlays.remove({ type: 'baton-pending' });
    registry.getAll().forEach((el) => canvas.hasMarker(el, 'baton-would-compensate') &&
      canvas.removeMarker(el, 'baton-would-compensate'));
    if (!show || !comp) return;
    (comp.pending || []).forEach((step) => {
      if (registry.get(step.activity)) canvas.addMarker(step.activity, 'baton-would-compensate');
      const target = registry.get(step.handler) ? step.handler : step.activity;
      if (!registry.get(target)) return;
      overlays.add(target, 'baton-pending', { position: { bottom: 10, left: -12 },
        html: `<span class="baton-comp-pending" title="would run ${step.position}.">${step.position}</span>` });
    });
  };

  Baton.showDefinition = function (container) {
    const viewer = Baton.viewer(container);
    Baton.loadUrl(viewer, container.dataset.xml)
      .then(() => (container.dataset.counts ? Baton.paintCounts(viewer, container) : null))
      .then(() => { container.dataset.ready = '1'; })
      .catch((e) => { container.innerHTML = `<p class="error">The diagram cannot be drawn: ${esc(e.message)}</p>`; });
    return viewer;
  };

  // The definition page: per element, how many of this version's instances wait there, its open
  // incidents, how many times it completed / was cancelled; each number opens the instance list
  // filtered to those instances (data-list is that list's URL).
  const COUNTS = [['active', 'active', 'instance(s) waiting here'], ['incidents', 'incident', 'open incident(s) here'],
    ['completed', 'completed', 'time(s) completed'], ['cancelled', 'cancelled', 'time(s) cancelled here']];
  Baton.paintCounts = async function (viewer, container) {
    const response = await fetch(container.dataset.counts, { cache: 'no-store' });
    if (!response.ok) throw new Error(`the counts answered ${response.status}`);
    const data = await response.json();
    const registry = viewer.get('elementRegistry');
    const overlays = viewer.get('overlays');
    overlays.remove({ type: 'baton-counts' });
    Object.keys(data.elements).forEach((id) => {
      if (!registry.get(id)) return;
      const counts = data.elements[id];
      const links = COUNTS.filter(([name]) => counts[name] > 0).map(([name, state, what]) => {
        const url = new URL(container.dataset.list, location.href);
        url.searchParams.set('element', id);
        url.searchParams.set('element_state', state);
        return `<a class="count-${name}" data-state="${name}" href="${esc(url.pathname + url.search)}" ` +
          `title="${counts[name]} ${what}">${counts[name]}</a>`;
      });
      if (!links.length) return;
      // Above the element's top-left corner: the labels of events and gateways are below them.
      overlays.add(id, 'baton-counts', { position: { top: -18, left: -4 },
        html: `<div class="element-counts" data-element-id="${esc(id)}">${links.join('')}</div>` });
    });
    container.dataset.counted = String(data.instances);
  };

  // A refused upload: its refused elements outlined, each with the reason under it.
  Baton.showRefusals = async function (container, xml) {
    const problems = JSON.parse(container.dataset.problems || '[]');
    const viewer = Baton.viewer(container);
    try {
      await Baton.load(viewer, xml);
    } catch (e) {
      container.closest('section').hidden = true;
      return;
    }
    const registry = viewer.get('elementRegistry');
    problems.forEach((p) => {
      if (!p.element_id || !registry.get(p.element_id)) return;
      viewer.get('canvas').addMarker(p.element_id, 'baton-failed');
      viewer.get('overlays').add(p.element_id, 'baton', { position: { top: -6, left: 0 },
        html: `<div class="baton-refusal above">${esc(p.reason)}</div>` });
    });
    container.dataset.ready = '1';
  };

  // The render-only page: window.batonRender(xml) -> {ok, warnings, error, elements}.
  Baton.renderOnly = function (container) {
    const viewer = Baton.viewer(container);
    window.batonRender = async function (xml) {
      try {
        const result = await Baton.load(viewer, xml);
        return { ok: true, warnings: result.warnings.map((w) => w.message),
          elements: viewer.get('elementRegistry').getAll().length };
      } catch (e) {
        return { ok: false, error: String((e && e.message) || e), warnings: ((e && e.warnings) || []).map((w) => w.message) };
      }
    };
    document.body.dataset.ready = '1';
  };
})();
