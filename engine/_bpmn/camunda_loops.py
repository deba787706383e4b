"""Camunda 7's multi-instance activities: ``camunda:collection`` / ``camunda:elementVariable``.

Camunda 7 makes one instance per element of the collection (a variable; ``${items}`` is read
as the variable ``items``, see ``juel_sites.py``), with the element in ``elementVariable``,
local to that instance; anything else an instance sets goes to the process, where the next
instance and the rest of the process see it. ``nrOfInstances`` & co. are offered to the
completion condition (``juel_expressions.py``).

SpiffWorkflow's Camunda parser reads these attributes on a few task types only (not on service
tasks), writes each instance's element back into the collection, and drops every other variable
an instance set. Baton's parsers here read them on tasks, service, user and manual tasks,
sub-processes and call activities, and its loop specs keep the collection as it is and merge
what an instance set, without its element variable.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.TaskParser import TaskParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.data_spec import TaskDataReference
from SpiffWorkflow.bpmn.specs.defaults import ParallelMultiInstanceTask, SequentialMultiInstanceTask, ServiceTask
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser, SubWorkflowParser, UserTaskParser

from .calls import CallActivityParser, CallActivityTask


class _LoopMixin:
    """Merges an instance's variables into the activity's, without the instance's element."""

    input_item: Any

    def create_child(self, my_task: Any, item: Any, key_or_index: Any = None) -> None:
        self._drop_element(my_task)  # merged from the instance before: the next one gets its own
        super().create_child(my_task, item, key_or_index)  # type: ignore[misc]

    def merge_child(self, workflow: Any, child: Any) -> None:
        super().merge_child(workflow, child)  # type: ignore[misc]
        self._drop_element(child.parent)

    def _drop_element(self, my_task: Any) -> None:
        if self.input_item is not None:
            my_task.data.pop(self.input_item.bpmn_id, None)


class CamundaSequentialLoop(_LoopMixin, SequentialMultiInstanceTask):
    pass


class CamundaParallelLoop(_LoopMixin, ParallelMultiInstanceTask):
    pass


_DATA_REFS = ("loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem")


class _CamundaLoopParsing:
    """``_add_multiinstance_task`` as Camunda 7 reads a multi-instance activity."""

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        this: Any = self
        prefix = "bpmn:multiInstanceLoopCharacteristics"
        cardinality = this.xpath(f"./{prefix}/bpmn:loopCardinality")
        cardinality = cardinality[0].text if len(cardinality) > 0 else None
        collection = this.attribute("collection", "camunda", loop_characteristics)
        if collection is None and any(this.xpath(f"./{prefix}/bpmn:{ref}") for ref in _DATA_REFS):
            # standard BPMN data references (SpiffArena writes them): SpiffWorkflow's own loop, where
            # each instance reads inputDataItem and its outputDataItem is collected into loopDataOutputRef
            TaskParser._add_multiinstance_task(this, loop_characteristics)
            return
        if cardinality is None and collection is None:
            this.raise_validation_exception("a multi-instance activity needs a loopCardinality or a "
                                            "camunda:collection")
        element = this.attribute("elementVariable", "camunda", loop_characteristics)
        condition = this.xpath(f"./{prefix}/bpmn:completionCondition")
        condition = condition[0].text if len(condition) > 0 else None
        original = this.spec.task_specs.pop(this.task.name)
        params = {
            "task_spec": "",
            "cardinality": None if collection else cardinality,
            "data_input": TaskDataReference(collection) if collection else None,
            "input_item": TaskDataReference(element) if collection and element else None,
            "condition": condition,
        }
        sequential = loop_characteristics.get("isSequential") == "true"
        loop = CamundaSequentialLoop if sequential else CamundaParallelLoop
        this.task = loop(this.spec, original.name, **params)
        this._copy_task_attrs(original, loop_characteristics)


class LoopTaskParser(_CamundaLoopParsing, CamundaTaskParser):
    pass


class LoopUserTaskParser(_CamundaLoopParsing, UserTaskParser):
    pass


class LoopSubWorkflowParser(_CamundaLoopParsing, SubWorkflowParser):
    pass


class LoopCallActivityParser(_CamundaLoopParsing, CallActivityParser):
    pass


def _spec(tag: str) -> Any:
    return CamundaParser.OVERRIDE_PARSER_CLASSES[full_tag(tag)][1]


#: tag -> (parser, spec) for the Baton parser's overrides
PARSERS = {
    full_tag("serviceTask"): (LoopTaskParser, ServiceTask),
    full_tag("manualTask"): (LoopTaskParser, _spec("manualTask")),
    full_tag("userTask"): (LoopUserTaskParser, _spec("userTask")),
    full_tag("subProcess"): (LoopSubWorkflowParser, _spec("subProcess")),
    full_tag("transaction"): (LoopSubWorkflowParser, _spec("transaction")),
    full_tag("callActivity"): (LoopCallActivityParser, CallActivityTask),  # Baton's call (calls.py)
}
