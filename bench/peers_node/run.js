// bpmn-engine running bench/straight_ten.bpmn, for bench/peers.py.
//
//   node run.js ../straight_ten.bpmn 500      -> one JSON line: {"instances", "seconds", ...}
//
// The diagram is parsed and serialized once (as raw SpiffWorkflow parses once); each instance is
// a new Engine on that serialized context, run to its end in memory. Every service task runs the
// same step as bench/handlers.py (steps + 1, ok), synchronously; the run checks steps == 10.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { Engine } from 'bpmn-engine';

const require = createRequire(import.meta.url);
const camunda = require('camunda-bpmn-moddle/resources/camunda.json');
const enginePackage = JSON.parse(readFileSync(new URL('./node_modules/bpmn-engine/package.json', import.meta.url)));

const [file, countArg, warmArg] = process.argv.slice(2);
const count = Number(countArg || 500);
const warm = Number(warmArg || 20);
const source = readFileSync(file, 'utf8');

function StepService(activity) {
  return {
    execute(executeMessage, callback) {
      const variables = activity.environment.output;
      variables.steps = (variables.steps || 0) + 1;
      variables.ok = true;
      callback(null, { steps: variables.steps, ok: true });
    },
  };
}

const extensions = {
  step(activity) {
    if (activity.type === 'bpmn:ServiceTask') activity.behaviour.Service = StepService;
  },
};

async function parseOnce() {
  const engine = new Engine({ source, moddleOptions: { camunda } });
  const moddleContext = await engine._getModdleContext(source);
  return engine._serializeModdleContext(moddleContext);
}

async function runOne(sourceContext, i) {
  const engine = new Engine({ name: `straight_ten-${i}`, sourceContext, extensions });
  const ended = engine.waitFor('end');
  const execution = await engine.execute({ variables: { i } });
  await ended;
  const steps = execution.environment.output.steps;
  if (steps !== 10) throw new Error(`instance ${i} ended with steps=${steps}, not 10`);
}

const sourceContext = await parseOnce();
for (let i = 0; i < warm; i++) await runOne(sourceContext, -1 - i);
const began = performance.now();
for (let i = 0; i < count; i++) await runOne(sourceContext, i);
const seconds = (performance.now() - began) / 1000;
console.log(JSON.stringify({ instances: count, seconds, node: process.version, bpmn_engine: enginePackage.version }));
