"""Call activities: the called process runs as its own Baton instance, linked to its caller.

SpiffWorkflow runs a called process inside the caller's workflow, and needs its spec when the
caller is parsed. Baton instead parses ``callActivity`` into :class:`CallActivityTask`, which
waits (STARTED) like a service task; the engine starts a child instance of the called key (the
latest version, or the one ``camunda:calledElementBinding="version"`` pins) and completes the
task with the child's variables when the child ends. So a call crosses deployments, the child
has its own page, history and incidents, and a new version of the callee serves new calls.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.bpmn_spec_mixin import BpmnSpecMixin
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"


class CallActivityTask(BpmnSpecMixin):
    """Waits until Baton completes it with the child instance's variables."""

    def _run_hook(self, my_task: Any) -> None:
        return None


class CallActivityParser(CamundaTaskParser):
    def create_task(self) -> CallActivityTask:
        return CallActivityTask(self.spec, self.bpmn_id, **self.bpmn_attributes)


def call_targets_of(el: etree._Element) -> dict[str, Any]:
    """{"key": called process id, "version": the pinned version or None (the latest)}; a FEEL id is
    {"key": None, "expression": "=..."}."""
    version = None
    if el.get(f"{{{CAMUNDA}}}calledElementBinding") == "version":
        raw = el.get(f"{{{CAMUNDA}}}calledElementVersion") or ""
        version = int(raw) if raw.isdigit() else None
    key = (el.get("calledElement") or "").strip()
    if key.startswith("="):  # Zeebe's FEEL processId: evaluated when the call is reached (feel_targets.py)
        return {"key": None, "expression": key, "version": version}
    return {"key": key, "version": version}


def call_targets(root: etree._Element) -> dict[str, dict[str, Any]]:
    """element id -> {"call": call_targets_of(element)} for every call activity under ``root``."""
    return {el.get("id", ""): {"call": call_targets_of(el)} for el in root.iter(f"{{{BPMN}}}callActivity")}
