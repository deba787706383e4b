// A worker written with Camunda's JavaScript client (camunda-external-task-client-js), unmodified.
//
//     node js_worker.mjs BASE_URL WORKER_ID CASE BEHAVIOUR LOG_FILE
//
// It takes only the tasks of its test (business key == CASE) and answers the `invoice-check` task
// of processes/camunda7_invoice.bpmn the way BEHAVIOUR says; pay and notify tasks it completes.
// Every task it sees, and what it did, goes to LOG_FILE as a JSON line. HTTP Basic with
// CAMUNDA_USER/CAMUNDA_PASSWORD (a Baton user).
import { appendFileSync } from "node:fs";
import { Client, BasicAuthInterceptor, Variables, logger } from "camunda-external-task-client-js";

const [baseUrl, workerId, caseKey, behaviour, logFile] = process.argv.slice(2);
const seen = new Set();

function log(event, task, more = {}) {
  const line = {
    event, worker: workerId, id: task.id, topic: task.topicName, retries: task.retries,
    errorMessage: task.errorMessage, lockExpirationTime: task.lockExpirationTime,
    variables: task.variables.getAllTyped(), ...more,
  };
  appendFileSync(logFile, JSON.stringify(line) + "\n");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const client = new Client({
  baseUrl, workerId, use: logger, asyncResponseTimeout: 2000, interval: 100,
  lockDuration: Number(process.env.LOCK_MS || 10000), maxTasks: 1,
  interceptors: new BasicAuthInterceptor({ username: process.env.CAMUNDA_USER, password: process.env.CAMUNDA_PASSWORD }),
});

client.subscribe("invoice-check", { businessKey: caseKey }, async ({ task, taskService }) => {
  const firstTime = !seen.has(task.id);
  seen.add(task.id);
  if (behaviour === "flaky" && firstTime) {
    log("failing", task);
    await taskService.handleFailure(task, {
      errorMessage: "the ledger did not answer", errorDetails: "ECONNRESET ledger:5432", retries: 1, retryTimeout: 300,
    });
    return;
  }
  if (behaviour === "invalid") {
    log("error", task);
    const variables = new Variables().set("rejection", "no invoice number");
    await taskService.handleBpmnError(task, "INVOICE_INVALID", "the invoice has no number", variables);
    return;
  }
  if (behaviour === "extend") {
    await taskService.extendLock(task, 30000);
    log("extended", task);
    await sleep(Number(process.env.HOLD_MS || 1500));
  }
  const variables = new Variables();
  variables.setTyped("approved", { value: true, type: "boolean", valueInfo: {} });
  variables.set("checkedBy", workerId);
  variables.set("score", 7.5);
  variables.set("lines", 3);
  variables.set("details", { lines: [1, 2], currency: "EUR" });
  variables.set("checkedAt", new Date(Date.UTC(2025, 0, 31, 12, 0, 0)));
  log("completing", task);
  await taskService.complete(task, variables);
});

for (const topic of ["invoice-pay", "invoice-notify"]) {
  client.subscribe(topic, { businessKey: caseKey }, async ({ task, taskService }) => {
    log("completing", task);
    await taskService.complete(task, new Variables().set(`${topic.replace("-", "_")}_by`, workerId));
  });
}
