"""Jobs of kind ``continue``: the commit points ``camunda:asyncBefore`` / ``asyncAfter`` ask for.

An advance that reaches a marked element holds it (``_bpmn/commit_points.py``) and
``outbox.continue_jobs`` writes one ``continue`` job per hold in the same transaction, so the
commit ends there, as Camunda 7 commits before (or after) such an element. The job, run by any
worker (Celery, the inline driver, or the worker that just committed, as a same-worker
continuation), is :func:`continue_job`: one advance that releases the held tasks and runs on to
the next wait. A failure in that advance (a script, a condition, an in-process Python call) rolls
it back to the commit point and the job is retried with backoff (Camunda 7's three attempts), then
it is an incident on the element; retrying the incident runs the job again. In-process calls that
succeeded before the failing one run again on each retry with the same idempotency keys (the
advance starts from the same committed revision), so their effects apply once. A worker killed
inside it loses nothing: the advance did not commit and the job runs again when its lease ends.

History shows the hold as ``waiting`` (``{"async": "before"|"after"}``) and the release as
``continued``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from SpiffWorkflow.exceptions import SpiffWorkflowException

from ._bpmn import commit_points
from ._bpmn.workflow import BatonWorkflow
from .errors import FatalFailure, RetryableFailure
from .instances import Note, Step, advance, job_instance
from .jobs import JobCall
from .models import Job, ProcessInstance
from .outcomes import fail_job, require_holder

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine


def continue_job(engine: Engine, job_id: str, *, owner: str | None = None, attempt: int | None = None,
                 take_next: bool = False) -> JobCall | None:
    """Run a ``continue`` job: release its held tasks and advance to the next wait.

    With ``take_next``, the job the instance makes next is claimed for ``owner`` (same-worker
    continuation, as :func:`outcomes.complete_job_and_take_next`) and returned."""
    steps: list[Step] = []
    element: list[str] = []

    instance_id = job_instance(engine, job_id)
    if instance_id is None:
        return None

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        job = session.get(Job, job_id)
        if job is None or job.status in ("done", "cancelled"):
            return  # settled already (a redelivery, a second worker)
        require_holder(job, owner, attempt)
        element.append(job.element_id)
        job.settle("done")
        step.raise_failures = True  # roll back to the commit point; the job is retried
        if take_next and owner is not None:
            step.take_next_for = owner
            steps.append(step)
        payload = job.payload or {}
        reached = workflow.find_task(payload.get("reached_by", ""))
        if reached is not None and reached.task_spec.bpmn_id != job.element_id:
            reached = None  # a boundary event split: the note is the element's
        # written first: what the released tasks do comes after it in history
        step.events.append(Note(job.element_id, "continued", {"async": payload.get("async")}, reached))
        commit_points.release([t for t in map(workflow.find_task, payload.get("tasks", [])) if t is not None])

    try:
        advance(engine, instance_id, apply)
    except SpiffWorkflowException as exc:  # a script, condition or expression after the commit point
        fail_job(engine, job_id, RetryableFailure(f"{element[0] if element else job_id}: {exc}"),
                 owner=owner, attempt=attempt)
        return None
    except (RetryableFailure, FatalFailure) as failure:  # an in-process call after it (``in_process.py``)
        fail_job(engine, job_id, failure, owner=owner, attempt=attempt)  # names the call's element
        return None
    return steps[-1].next_call if steps else None
