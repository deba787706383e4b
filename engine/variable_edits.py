"""An operator edits a running instance's variables (Camunda Cockpit's variable edit).

The values are set on every live task's data (each branch of a parallel split carries its own
copy) and on the last completed task's, so what the page shows and what the next step reads
agree. It goes through ``instances.advance`` like every change: one transaction, the row lock, a
``variables`` history row on the process with who, why, the names set and removed and the values
they had. A call already sent to a service keeps the variables it was sent with.

Refused: an ended instance (nothing reads its variables again: restart it with new ones), names
that are not text, values that are not JSON, and an edit that neither sets nor removes anything.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import InstanceNotActive, InvalidVariables
from .instances import ENDED, Note, Step, advance
from .modification import LIVE
from .variables import check_variables

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ._bpmn.workflow import BatonWorkflow
    from .models import ProcessInstance
    from .runtime import Engine

MAX_NAMES = 200
SHOWN_VALUE_CHARS = 500  # a value shown in history is cut here (the variables hold it whole)


def edit_variables(engine: Engine, instance_id: str, values: dict[str, Any] | None = None,
                   remove: list[str] | None = None, *, by: str, reason: str | None = None) -> str:
    """Set ``values`` and remove the names in ``remove`` on a running or suspended instance."""
    values = check_variables(values)
    remove = list(remove or [])
    if not values and not remove:
        raise InvalidVariables("the edit neither sets nor removes a variable")
    if len(values) + len(remove) > MAX_NAMES:
        raise InvalidVariables(f"at most {MAX_NAMES} variables in one edit")
    for name in [*values, *remove]:
        if not isinstance(name, str) or not name.strip():
            raise InvalidVariables(f"variable name {name!r}: give a non-empty name")
    both = set(values) & set(remove)
    if both:
        raise InvalidVariables(f"{', '.join(sorted(both))}: set and removed in the same edit")

    def apply(session: Session, instance: ProcessInstance, workflow: BatonWorkflow, step: Step) -> None:
        if instance.status in ENDED:
            raise InstanceNotActive(f"instance {instance.id} is {instance.status}: its variables are no longer "
                                    "edited (restart it from an activity with new ones)")
        before = instance.variables or {}
        missing = [n for n in remove if n not in before]
        if missing:
            raise InvalidVariables(f"instance {instance.id} has no variable {', '.join(missing)} to remove")
        targets = _all_live(workflow)
        if workflow.last_task is not None:
            targets.append(workflow.last_task)
        for task in targets:
            task.data.update(json.loads(json.dumps(values)))
            for name in remove:
                task.data.pop(name, None)
        step.events.append(Note("process", "variables", {
            "by": by, "reason": reason,
            "set": {k: _shown(v) for k, v in values.items()},
            "removed": remove,
            "before": {k: _shown(before[k]) for k in [*values, *remove] if k in before},
        }))

    return advance(engine, instance_id, apply)


def _all_live(workflow: BatonWorkflow) -> list[Any]:
    tasks = [t for t in workflow.tasks.values() if t.has_state(LIVE)]
    for sub in workflow.subprocesses.values():
        tasks.extend(t for t in sub.tasks.values() if t.has_state(LIVE))
    return tasks


def _shown(value: Any) -> Any:
    text = json.dumps(value)
    return value if len(text) <= SHOWN_VALUE_CHARS else text[:SHOWN_VALUE_CHARS] + "…"
