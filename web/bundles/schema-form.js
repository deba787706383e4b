// esbuild entry (Makefile vendor rule) -> web/static/vendor/baton-schema-form.js, setting
// window.JSONEditor: json-editor, which draws a form from a JSON Schema in plain DOM (no React)
// and validates by reading the schema, never by generating code, so the page's CSP needs no
// 'unsafe-eval'. Built from its ES sources: its webpack dist is twice the size (core-js
// polyfills) and carries webpack's `new Function("return this")`.
import { JSONEditor } from '@json-editor/json-editor/src/core.js'

// Only the default template engine stays: it replaces {{ name }} by a value and runs nothing.
// The others wrap ejs, lodash, underscore... which compile a template into a function.
for (const name of Object.keys(JSONEditor.defaults.templates)) {
  if (name !== 'default') delete JSONEditor.defaults.templates[name]
}
JSONEditor.defaults.options.template = 'default'

window.JSONEditor = JSONEditor
