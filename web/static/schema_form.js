// A SpiffArena JSON Schema form (formJsonSchemaFilename + formUiSchemaFilename) drawn in the
// browser by json-editor (vendor/baton-schema-form.js) on the task page. The page carries the
// deployed schema, UI schema, the values to start from and the server's errors in
// <script type="application/json" id="schema-form-config"> (ui_tasks.py). On submit the form
// posts the value as JSON in one field, `json`; the server validates it against the same schema
// and, on refusal, renders this page again with that value and the errors per field.
// The server-rendered fields are in the page for a browser without JavaScript; once the form is
// drawn here they are removed, the instructions above them stay.
(function () {
  'use strict';
  const config = document.getElementById('schema-form-config');
  const form = document.getElementById('task-form');
  if (!config || !form || !window.JSONEditor) return;
  const { schema, ui, orders, values, errors } = JSON.parse(config.textContent);

  // rjsf's UI schema (SpiffArena's form library) as json-editor's keywords on a copy of the
  // schema; the copy only steers drawing, the server validates against the deployed schema.
  // Read: ui:order, ui:title, ui:description, ui:help, ui:placeholder, ui:autocomplete,
  // ui:disabled, ui:readonly, ui:widget (textarea, password, radio, select, checkbox, hidden,
  // range, updown, email, uri, date...), ui:enumNames, ui:items (an array's item hints).
  function ordered(names, order) {
    if (!Array.isArray(order)) return names;
    const listed = order.filter((n) => names.includes(n));
    const rest = names.filter((n) => !listed.includes(n));
    const star = order.indexOf('*');
    if (star < 0) return listed.concat(rest);
    return order.slice(0, star).filter((n) => names.includes(n)).concat(rest,
      order.slice(star + 1).filter((n) => names.includes(n)));
  }

  function constChoices(node) {
    const list = node.oneOf || node.anyOf;
    if (!Array.isArray(list) || !list.length) return null;
    return list.every((c) => c && typeof c === 'object' && 'const' in c) ? list : null;
  }

  const help = {};  // json-editor path -> ui:help, shown under the field once drawn
  const locked = [];  // paths of ui:disabled / ui:readonly fields
  const unchosen = [];  // choices and numbers without a default: json-editor would pick the first, false or 0

  function browserSchema(source, hints, path) {
    if (!source || typeof source !== 'object' || Array.isArray(source)) return source;
    const node = Object.assign({}, source);
    hints = hints && typeof hints === 'object' ? hints : {};
    const options = Object.assign({}, node.options);
    const attrs = Object.assign({}, options.inputAttributes);
    if (hints['ui:title']) node.title = hints['ui:title'];
    if (hints['ui:description']) node.description = hints['ui:description'];
    if (hints['ui:help']) help[path] = String(hints['ui:help']);
    if (hints['ui:placeholder']) attrs.placeholder = String(hints['ui:placeholder']);
    if (hints['ui:autocomplete']) attrs.autocomplete = String(hints['ui:autocomplete']);
    if (hints['ui:disabled'] || hints['ui:readonly']) locked.push(path);

    const choices = constChoices(node);
    if (choices) {  // rjsf's labelled enum: oneOf [{const, title}]
      node.enum = choices.map((c) => c.const);
      options.enum_titles = choices.map((c) => String(c.title !== undefined ? c.title : c.const));
      if (!node.type) node.type = typeof choices[0].const === 'boolean' ? 'boolean' : typeof choices[0].const === 'number' ? 'number' : 'string';
      delete node.oneOf; delete node.anyOf;
    }
    const names = hints['ui:enumNames'] || node.enumNames;
    if (Array.isArray(names)) options.enum_titles = names.map(String);

    const widget = hints['ui:widget'];
    const type = Array.isArray(node.type) ? node.type.find((t) => t !== 'null') : node.type;
    if (type === 'boolean') {
      if (widget === 'radio' || widget === 'select') {
        // json-editor draws a boolean's choice as a select; never pick one for the user
        if (node.enum) delete node.enum;
        options.has_placeholder_option = true;
        options.placeholder_option_text = '— choose —';
        if (node.default === undefined) unchosen.push(path);
      } else {
        node.format = 'checkbox';
      }
    } else if (node.enum) {
      node.format = widget === 'radio' ? 'radio' : 'select';
      if (node.default === undefined) {
        unchosen.push(path);
        options.has_placeholder_option = true;
        options.placeholder_option_text = '— choose —';
      }
    } else if ((type === 'number' || type === 'integer') && node.default === undefined) {
      unchosen.push(path);  // json-editor starts a required number at 0; rjsf leaves it empty
      if (widget === 'range') node.format = 'range';
    } else if (widget === 'textarea' || widget === 'password' || widget === 'color' || widget === 'email' || widget === 'uri') {
      node.format = widget === 'uri' ? 'url' : widget;
    } else if (widget === 'range') {
      node.format = 'range';
    } else if (widget === 'date' || widget === 'alt-date') {
      node.format = 'date';
    }
    if (widget === 'hidden') options.hidden = true;

    if (node.properties && typeof node.properties === 'object') {
      const props = {};
      const names = Object.keys(node.properties);
      const inFile = (orders[path] || []).filter((n) => names.includes(n));  // the file's order
      ordered(inFile.concat(names.filter((n) => !inFile.includes(n))), hints['ui:order']).forEach((name, i) => {
        props[name] = Object.assign(browserSchema(node.properties[name], hints[name], `${path}.${name}`),
          { propertyOrder: i + 1 });
      });
      node.properties = props;
    }
    if (node.items && !Array.isArray(node.items)) node.items = browserSchema(node.items, hints.items || hints['ui:items'], `${path}.items`);
    if (Object.keys(attrs).length) options.inputAttributes = attrs;
    node.options = options;
    return node;
  }

  const holder = document.createElement('div');
  holder.id = 'schema-form';
  holder.className = 'schema-form';
  const fields = form.querySelector('.form-fields');
  (fields || form.querySelector('.form-actions')).insertAdjacentElement(fields ? 'beforeend' : 'beforebegin', holder);

  // Once json-editor has drawn the form, the server-rendered fields go (with their inputs and
  // error messages) and the value is posted as `json` instead. Until then, or if it cannot draw
  // this schema, they are the form. Instructions (.form-text) stay either way.
  function takeOver() {
    form.querySelectorAll('.form-fields > .form-field').forEach((el) => el.remove());
    const legend = document.getElementById('required-legend');
    if (legend) legend.hidden = true;
    const posted = document.createElement('input');
    posted.type = 'hidden';
    posted.name = 'json';
    form.appendChild(posted);
    form.addEventListener('submit', () => { posted.value = JSON.stringify(editor.getValue() || {}); });
  }

  const root = browserSchema(schema, ui, 'root');
  holder.classList.toggle('untitled', !schema.title);  // json-editor would head it "root"
  let editor;
  try {
    editor = new window.JSONEditor(holder, {
      schema: root,  // the values are set per property once drawn (see 'ready')
      theme: 'html',
      disable_collapse: true,  // a task form, not a JSON document editor: no collapse, JSON, property buttons
      disable_edit_json: true,
      disable_properties: true,
      iconlib: null,
      show_errors: 'interaction',  // the browser's hints as one types; the server's word on submit
      use_name_attributes: false,  // the json field carries the value, not one input per property
      remove_empty_properties: true,  // an empty input is no value, as in rjsf
      disable_array_delete_all_rows: true,
      disable_array_delete_last_row: true,
      prompt_before_delete: false,
      form_name_root: 'root',
    });
  } catch (error) {  // a schema json-editor cannot draw: the server-rendered form stays
    holder.remove();
    console.warn('The form is shown without json-editor:', error);
    return;
  }
  window.Baton = window.Baton || {};
  window.Baton.schemaForm = editor;  // for tests and the curious

  editor.on('ready', () => {
    unchosen.forEach((path) => {  // nothing chosen until someone chooses, as in rjsf
      const field = editor.getEditor(path);
      if (!field) return;
      if (field.radioGroup) field.radioGroup.forEach((input) => { input.checked = false; });
      else if (field.input && field.input.tagName === 'SELECT') field.input.value = '_placeholder_';  // its empty option
      else if (field.input && field.input.type !== 'range') { field.setValue(''); return; }  // a number: empty
      else return;
      field.value = undefined;
      field.onChange(true);  // the parent object keeps its own copy of the value: tell it
    });
    // Property by property: a start value for the root would drop every optional property it lacks.
    Object.keys(values || {}).forEach((name) => {
      const field = editor.getEditor(`root.${name}`);
      if (field) field.setValue(values[name]);
    });
    // json-editor shows its first verdict on every field, touched or not: clear it, so that its
    // hints appear on the fields one has typed in, and the root's "missing property" list not at all
    // (the marks on the labels say it; the server's answer names each field).
    editor.showValidationErrors([]);
    Object.values(editor.editors).forEach((field) => { if (field) field.is_dirty = false; });
    if (editor.root.error_holder) editor.root.error_holder.hidden = true;
    Object.keys(help).forEach((path) => {
      const field = editor.getEditor(path);
      if (!field) return;
      const note = document.createElement('p');
      note.className = 'hint';
      note.textContent = help[path];
      field.container.appendChild(note);
    });
    locked.forEach((path) => { const field = editor.getEditor(path); if (field) field.disable(); });
    takeOver();
    showServerErrors();
    holder.dataset.ready = 'true';
  });

  // The server's refusal, per top-level property, under that property; a message it could not
  // place (a rule on the whole object) above the form. A message goes once its field changes.
  function showServerErrors() {
    const shown = [];
    Object.keys(errors || {}).forEach((name) => {
      const message = document.createElement('p');
      message.className = 'field-error';
      message.setAttribute('role', 'alert');
      message.dataset.field = name;
      message.id = `error-${name}`;
      message.textContent = errors[name];
      const field = editor.getEditor(`root.${name}`);
      if (field) {
        field.container.classList.add('has-error');
        field.container.appendChild(message);
        shown.push({ field, message, before: JSON.stringify(field.getValue()) });
      } else {
        message.textContent = `${name}: ${errors[name]}`;
        holder.insertAdjacentElement('beforebegin', message);
      }
    });
    const settle = (s, changed) => {
      s.message.hidden = changed;
      s.field.container.classList.toggle('has-error', !changed);
    };
    editor.on('change', () => {  // json-editor's: on leaving a field, choosing, ticking
      shown.forEach((s) => settle(s, JSON.stringify(s.field.getValue()) !== s.before));
    });
    holder.addEventListener('input', (ev) => {  // while typing
      shown.forEach((s) => { if (s.field.container.contains(ev.target)) settle(s, true); });
    });
  }
})();
