"""What a decision table decided, kept on the business rule task for its history row.

:class:`engine._bpmn.decision_binding.DecisionRefTask` calls :func:`remember` with the rules
that matched and adds which version decided (``decision_id``, ``version``, ``deployment_id``);
so did ``events.BusinessRuleTask`` (definitions deployed before run-time binding). The history
tracker (``history.py``) puts :func:`evaluation` in the ``completed`` row's details as
``{"decision": {...}}``, which ``engine.decisions`` reads to highlight the rules.
"""

from __future__ import annotations

import json
from typing import Any

KEY = "baton_decision"
#: internal data: the evaluated table's output names and whether it collects (Zeebe's resultVariable)
OUTPUTS = "baton_decision_outputs"


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def remember(task: Any, table: Any, matched: list[Any], inputs: dict[str, Any]) -> None:
    """Keep the table, its hit policy, the matched rules (id and 1-based row) and the input values."""
    task.internal_data[KEY] = {
        "table_id": table.id, "table_name": table.name, "hit_policy": table.hit_policy,
        "rules": [rule.id for rule in matched], "rows": [rule.row_number for rule in matched],
        "inputs": {name: _json_safe(value) for name, value in inputs.items()},
    }


def evaluation(task: Any) -> dict[str, Any] | None:
    """The decision :func:`remember` kept on this task, if it is a business rule task that decided."""
    found = task.internal_data.get(KEY)
    return dict(found) if isinstance(found, dict) else None
