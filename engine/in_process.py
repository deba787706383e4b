"""In-process service tasks run inside the advance, which commits at the next real wait.

A service task whose endpoint is a Python callable does no I/O Baton must make durable first,
so it need not be a job of its own: Camunda 7 runs such work in the transaction that reached it
and commits at the next wait state. ``run_ready`` calls every such task that started in this
advance (through the caller the composition root gives the engine: ``engine`` never imports an
adapter), completes it with the result, and lets the workflow move on, within a budget of calls
and time. What stays a job, each its own durable step:

- a remote call (HTTP endpoint), whatever its place;
- a task marked ``camunda:asyncBefore`` (its job is the commit point; ``asyncAfter`` on any
  element, and ``asyncBefore`` on the others, hold the workflow there and a ``continue`` job goes
  on: ``_bpmn/commit_points.py``, ``continuations.py``);
- every service task when ``BATON_COMMIT_EVERY_STEP`` is on;
- a call that failed in process (it is retried as a job, with backoff, then an incident); but in
  the advance of a ``continue`` job a failed call fails that job instead, as any failure after a
  commit point does in Camunda 7: the advance rolls back to the commit point and the job is
  retried, then an incident on the marked element (a BPMN error still goes the job path, to the
  task's boundary event);
- what is left when the budget is spent.

A ``camunda:expression`` service task in Baton's JUEL subset (``_bpmn/delegates.py``) is not a
call at all: it is evaluated here whenever it is reached, whatever the settings; so are the
JUEL and FEEL assignees and candidates of the user tasks that became ready
(``_bpmn/camunda_people.py``), and the FEEL job types and called process ids of the tasks that
started (``_bpmn/feel_targets.py``): a job is made with what they gave.

After a crash, everything since the last commit runs again: the in-process calls of the advance
that was lost are made again with the same idempotency key (``instance:task:element`` for a task
of the committed state; ``instance:r<revision>.<n>:element`` for one the advance made, by the
revision it started from and the call's order in it), so a handler that honours it applies its
effect once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from ._bpmn import camunda_people, feel_targets, juel_expressions
from ._bpmn.history import all_tasks
from ._bpmn.workflow import BatonWorkflow, json_copy
from .endpoints import Endpoint
from .errors import BpmnErrorRaised, FatalFailure, RetryableFailure
from .jobs import JobCall
from .variables import check_variables

if TYPE_CHECKING:
    from .models import ProcessInstance
    from .runtime import Engine

log = logging.getLogger("baton.engine")

InProcessCaller = Callable[[JobCall], dict[str, Any]]

#: At most this many in-process calls, and this many seconds of them, in one advance; the rest
#: become jobs (a loop of in-process steps must not hold the instance's lock for ever).
CALL_BUDGET = 1000
TIME_BUDGET_SECONDS = 5.0


class InProcessRun:
    """The in-process calls of one advance: which tasks are still theirs to run, and the budget."""

    def __init__(self, engine: Engine, instance: ProcessInstance, workflow: BatonWorkflow, *,
                 roll_back: bool = False) -> None:
        self.engine = engine
        self.instance = instance
        #: a continue job's advance: a failed call raises (the job's failure), see the docstring
        self.roll_back = roll_back
        self.enabled = engine.in_process is not None and not engine.settings.commit_every_step
        present = all_tasks(workflow) if self.enabled else []
        # Service tasks already started when the advance began have their jobs: never run those here.
        self.have_jobs = {t.id for t in present if t.state == TaskState.STARTED}
        # Tasks of the committed state keep their ids when this advance runs again after a crash;
        # tasks made during it (a loop's next iteration) get new ones, so they are keyed by the
        # revision the advance started from and their order in it, which a re-run repeats.
        self.committed = {t.id for t in present}
        self.revision = instance.revision
        self.calls = 0
        self.deadline = time.monotonic() + TIME_BUDGET_SECONDS

    def run_ready(self, workflow: BatonWorkflow) -> bool:
        """Call the in-process tasks that started since; True if any completed (the workflow moved)."""
        bindings = workflow.specs.bindings if workflow.specs is not None else {}
        if workflow.specs is None or workflow.specs.waits_for_people_or_events:
            camunda_people.resolve(all_tasks(workflow), bindings)  # ${initiator} as an assignee
        feel_targets.resolve(all_tasks(workflow), bindings, self.engine.endpoints)  # FEEL job types, process ids
        moved = self._run_expressions(workflow, bindings)
        if not self.enabled:
            return moved
        for task in all_tasks(workflow):
            endpoint = self._endpoint(task, bindings)
            if endpoint is None:
                continue
            if self.calls >= CALL_BUDGET or time.monotonic() > self.deadline:
                break
            self.calls += 1
            if self._call(task, endpoint, bindings.get(task.task_spec.bpmn_id) or {}):
                moved = True
        return moved

    @staticmethod
    def _run_expressions(workflow: BatonWorkflow, bindings: dict[str, Any]) -> bool:
        """Run the ``camunda:expression`` service tasks that started: a JUEL expression in Baton's
        subset does no I/O, so it is evaluated here, as Camunda 7 does in the transaction that
        reached it (a failure is an incident on the task)."""
        moved = False
        for task in all_tasks(workflow):
            if task.state != TaskState.STARTED or not isinstance(task.task_spec, ServiceTask):
                continue
            binding = bindings.get(task.task_spec.bpmn_id) or {}
            if "expression" not in binding:
                continue
            try:
                value = juel_expressions.run(task, binding["expression"], dict(task.data))
            except SpiffWorkflowException:
                task.error()  # waits under the incident; retrying it runs the expression again
                raise
            if binding.get("result_variable"):
                task.data[binding["result_variable"]] = json_copy({"value": value})["value"]
            task.complete()
            moved = True
        return moved

    def _endpoint(self, task: Task, bindings: dict[str, Any]) -> Endpoint | None:
        """The in-process endpoint of a service task that is this advance's to run, else None."""
        if task.state != TaskState.STARTED or task.id in self.have_jobs or not isinstance(task.task_spec, ServiceTask):
            return None
        binding = bindings.get(task.task_spec.bpmn_id) or {}
        if binding.get("async") or "endpoint" in binding:
            return None
        endpoint = self.engine.endpoints.resolve(feel_targets.topic_of(task, binding) or "")
        return endpoint if endpoint is not None and endpoint.kind == "python" else None

    def _call(self, task: Task, endpoint: Endpoint, binding: dict[str, Any]) -> bool:
        element_id = task.task_spec.bpmn_id
        key = (f"{self.instance.id}:{task.id}:{element_id}" if task.id in self.committed
               else f"{self.instance.id}:r{self.revision}.{self.calls}:{element_id}")
        call = JobCall(
            job_id="", instance_id=self.instance.id, element_id=element_id, kind="service",
            topic=endpoint.topic, endpoint=endpoint, variables=json_copy(task.data),
            idempotency_key=key, attempt=1, traceparent="", payload={"headers": binding.get("headers")},
        )
        assert self.engine.in_process is not None
        try:
            result = check_variables(self.engine.in_process(call))
        except Exception as exc:  # any failure: the job path retries it, then opens an incident
            if self.roll_back and not isinstance(exc, BpmnErrorRaised):  # a BPMN error: its job throws it
                failure = FatalFailure if isinstance(exc, FatalFailure) else RetryableFailure
                raise failure(f"{element_id}: {exc}") from exc
            log.info("in-process %s of %s failed (%s); it runs as a job", element_id, self.instance.id, exc)
            self.have_jobs.add(task.id)
            return False
        task.data.update(result)
        task.complete()
        return True
