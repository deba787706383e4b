"""Read a deployment's files into process specs, or into the reasons they are refused.

Everything Baton cannot execute is refused at deploy, naming the element (the checks are in
``checks.py``; compensation's in ``compensation.py``). What passes is what runs.

Diagrams come from many modellers, most of them drawn to be read, not run (the BPMN MIWG
suite, Signavio, Camunda Modeler, Camunda 7 examples). Three rules keep their refusals useful:
- only a ``bpmn:process`` marked ``isExecutable="true"`` is deployed, checked and handed to
  SpiffWorkflow as executable (SpiffWorkflow alone treats a missing attribute as executable, and
  would deploy what Baton never checked); a file with none is refused, saying so;
- a problem is reported on the element a user sees in a modeller (the sequence flow, the event,
  the task), not on an inner part with an id of its own (a condition, an event definition);
- what SpiffWorkflow would stumble on with a library message (a data store, a business rule task
  without a decision, a call to a process that is not deployed) is checked first and explained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.event_parsers import SendTaskParser
from SpiffWorkflow.bpmn.parser.ProcessParser import ProcessParser
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.defaults import (
    EndEvent,
    IntermediateThrowEvent,
    ReceiveTask,
    SendTask,
    ServiceTask,
    StartEvent,
)
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEventDefinitionParser

from .. import forms
from ..endpoints import EndpointMap
from ..errors import Problem
from . import (
    calls,
    camunda_calls,
    camunda_io,
    camunda_loops,
    camunda_people,
    commit_points,
    compensation,
    decision_binding,
    decision_graph,
    dialect_translation,
    event_subprocesses,
    events,
    plain_task,
    quartz,
    sandbox,
    spiff_events,
    task_headers,
    task_scope,
)
from .checks import (
    BPMN,
    DMN_NAMESPACES,
    Deployment,
    Document,
    check_dmn,
    check_document,
    refuser,
)
from .compensation import CompensationPlan
from .plain_task import PlainTask
from .service_bindings import job_binding
from .workflow import WorkflowCodec
from .xmlsafe import document_text, parse_document


class _ProcessParser(ProcessParser):
    """A ``bpmn:process`` is executable only when it says ``isExecutable="true"``, as Baton checks it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if etree.QName(self.node).localname == "process":  # embedded sub-processes come here too
            self.process_executable = self.node.get("isExecutable") == "true"


class _SendTaskParser(CamundaEventDefinitionParser, SendTaskParser):
    """Camunda 7 and 8 run a send task like a service task, as a job; only a send task with no
    job binding throws its message. Messages are Camunda message definitions, which the
    serializer knows (SpiffWorkflow's Camunda parser leaves send and receive tasks with the plain
    BPMN ones, which its Camunda serializer config cannot store)."""

    def create_task(self) -> Any:
        if job_binding(self.node):
            return ServiceTask(self.spec, self.bpmn_id, **self.bpmn_attributes)
        return SendTaskParser.create_task(self)


class _ReceiveTaskParser(CamundaEventDefinitionParser, SendTaskParser):
    def create_task(self) -> Any:
        return SendTaskParser.create_task(self)


class BatonParser(CamundaParser):
    """SpiffWorkflow's Camunda parser; plain BPMN, Camunda 7/8 and SpiffArena files all go through it."""

    PROCESS_PARSER_CLASS = _ProcessParser
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        # compensation and cancel throws wait for Baton to run the handlers (compensation.py)
        full_tag("intermediateThrowEvent"): (compensation.ThrowEventParser, IntermediateThrowEvent),
        full_tag("endEvent"): (compensation.EndEventParser, EndEvent),
        full_tag("startEvent"): (events.StartEventParser, StartEvent),
        full_tag("callActivity"): (calls.CallActivityParser, calls.CallActivityTask),
        # bound to its decision when reached, as Camunda 7 binds decisionRef (decision_binding.py)
        full_tag("businessRuleTask"): (decision_binding.DecisionRefTaskParser, decision_binding.DecisionRefTask),
        full_tag("sendTask"): (_SendTaskParser, SendTask),
        full_tag("receiveTask"): (_ReceiveTaskParser, ReceiveTask),
        **camunda_loops.PARSERS,  # Camunda 7's multi-instance attributes, as Camunda reads them
        full_tag("task"): (camunda_loops.LoopTaskParser, PlainTask),
    }

    def _add_data_stores(self, bpmn: etree._Element) -> None:
        """Baton has no data store implementations: an executable process that reads or writes
        one is refused by the checks; a data store drawn for a descriptive participant is left out."""

    def _find_dependencies(self, process: etree._Element) -> None:
        if process.get("isExecutable") == "true":
            super()._find_dependencies(process)


@dataclass
class ProcessSource:
    """One executable process found in a deployment, ready to be stored as a definition."""

    key: str
    name: str | None
    file_name: str
    source_xml: str
    spec: Any
    subprocess_specs: dict[str, Any]
    bindings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Compensation (``compensation.py``): the plan and the units' specs, stored with the definition.
    plan: CompensationPlan = field(default_factory=CompensationPlan)
    units: dict[str, tuple[Any, dict[str, Any]]] = field(default_factory=dict)


def read_deployment(
    files: list[tuple[str, bytes]], endpoints: EndpointMap, max_bytes: int,
    deployed: dict[str, set[int]] | None = None,
) -> tuple[list[ProcessSource], list[Problem]]:
    """Parse and check every file; return the executable processes, or every problem found.

    ``deployed`` (key -> versions) lets a call activity call a process deployed earlier. A
    business rule task's decision is looked up when the task is reached, as Camunda 7 resolves
    ``decisionRef`` in its repository (``decision_binding.py``): this deployment's decision tables
    are read here, so one SpiffWorkflow cannot read is refused now, not when a task reaches it.
    DMN files deployed alone are checked and their decisions kept (no process comes of them)."""
    problems: list[Problem] = []
    documents: list[Document] = []
    side_files: dict[str, Any] = {}  # forms and JSON Schemas deployed beside the diagrams (engine.forms)
    for file_name, data in files:
        if forms.is_side_file(file_name):
            parsed, reason = forms.side_file(file_name, data)
            if reason:
                problems.append(Problem(file_name, None, None, reason))
            else:
                side_files[file_name.replace("\\", "/").rsplit("/", 1)[-1]] = parsed
            continue
        root, problem = parse_document(data, file_name, max_bytes)
        if problem:
            problems.append(problem)
            continue
        assert root is not None
        _activiti_as_camunda(root)
        ns = etree.QName(root).namespace or ""
        is_dmn = ns.startswith(DMN_NAMESPACES)
        if not is_dmn and (ns != BPMN or etree.QName(root).localname != "definitions"):
            problems.append(Problem(file_name, root.sourceline, None,
                                    f"not a BPMN 2.0 document (root element {root.tag!r}; a diagram starts with "
                                    f"<definitions> in the {BPMN} namespace)"))
            continue
        by_id = {el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        doc = Document(file_name, root, document_text(data, root), is_dmn, by_id)
        if not is_dmn:
            doc.processes = list(root.iterfind(f"{{{BPMN}}}process"))
            doc.executable = [p for p in doc.processes if p.get("isExecutable") == "true"]
        documents.append(doc)
    if problems:
        return [], problems

    bpmn_docs = [d for d in documents if not d.is_dmn]
    dmn_docs = [d for d in documents if d.is_dmn]
    if not bpmn_docs:
        if not dmn_docs:
            return [], [Problem(name, None, None, "a form file alone deploys nothing: deploy it together with the "
                                                  "diagram whose task uses it") for name in side_files]
        alone = Deployment(processes={}, decisions={}, deployed=deployed or {})
        for doc in dmn_docs:  # Camunda 7 deploys a DMN file alone: its decisions are kept for later diagrams
            found = check_dmn(doc, alone)
            problems.extend(found or _compile_decisions(doc))
        return [], problems
    if not any(doc.executable for doc in bpmn_docs):
        return [], [_not_executable(doc) for doc in bpmn_docs]
    deployment = Deployment(
        processes={p.get("id"): p for doc in bpmn_docs for p in doc.processes if p.get("id")},
        decisions={},
        deployed=deployed or {},
    )
    # A file with no executable process only describes: it is neither checked nor deployed.
    bpmn_docs = [d for d in bpmn_docs if d.executable]
    for doc in dmn_docs:
        found = check_dmn(doc, deployment)
        problems.extend(found or _compile_decisions(doc))
    plans: dict[str, CompensationPlan] = {}
    task_forms: dict[str, dict[str, Any]] = {}
    for doc in bpmn_docs:
        plain_task.spiffarena_tasks_wait(doc.root, doc.executable)  # SpiffArena shows them to a person
        dialect_translation.translate(doc.executable, refuser(doc, problems))  # Zeebe/Spiff as Camunda 7 reads
        problems.extend(check_document(doc, endpoints, deployment))
        plans[doc.file_name] = compensation.check(doc.root, refuser(doc, problems))
        commit_points.check(doc.executable, refuser(doc, problems))  # camunda:asyncBefore/asyncAfter
        task_forms[doc.file_name] = forms.task_forms(doc.root, side_files, refuser(doc, problems))
        python_tasks = task_headers.python_tasks(deployment.bindings.get(doc.file_name, {}), endpoints)
        for element_id, entry in commit_points.read(doc.executable, deployment.bindings.get(doc.file_name, {})).items():
            task_forms[doc.file_name].setdefault(element_id, {}).update(entry)
        for found in (task_headers.task_headers(doc.executable, refuser(doc, problems), python_tasks),
                      task_headers.task_retries(doc.executable, refuser(doc, problems))):
            for element_id, entry in found.items():  # zeebe:taskHeaders, zeebe:taskDefinition retries
                task_forms[doc.file_name].setdefault(element_id, {}).update(entry)
    if problems:
        return [], problems

    parser = BatonParser()
    owner: dict[str, Document] = {}
    for doc in dmn_docs + bpmn_docs:
        try:
            if doc.is_dmn:
                for decision in decision_graph.split(doc.root):  # SpiffWorkflow reads one per document
                    parser.add_dmn_xml(decision, filename=doc.file_name)
            else:
                parser.add_bpmn_xml(compensation.strip(doc.root), filename=doc.file_name)
                units = compensation.unit_document(doc.root, plans[doc.file_name])
                if units is not None:
                    parser.add_bpmn_xml(units, filename=doc.file_name)
                for process in doc.processes:
                    owner[process.get("id")] = doc
        except ValidationException as exc:
            problems.append(_from_validation(exc, doc))
        except Exception as exc:  # a library bug must become a refusal, not a traceback
            problems.append(Problem(doc.file_name, None, None, f"cannot be read: {type(exc).__name__}: {exc}"))
    if problems:
        return [], problems

    sources: list[ProcessSource] = []
    for key in parser.get_process_ids():
        doc = owner.get(key)
        if doc is None:
            continue
        process_node = doc.by_id[key]
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
            task_scope.attach(doc.root, [spec, *subprocess_specs.values()])
            spiff_events.attach(doc.root, [spec, *subprocess_specs.values()])  # Spiff event payloads
            camunda_io.attach(doc.root, [spec, *subprocess_specs.values()])
            quartz.attach([spec, *subprocess_specs.values()])
            camunda_calls.attach(doc.root, [spec, *subprocess_specs.values()])
            _storable(spec, subprocess_specs)
        except ValidationException as exc:
            problems.append(_from_validation(exc, doc))
            continue
        except Exception as exc:
            problems.append(Problem(doc.file_name, process_node.sourceline, key,
                                    f"cannot be read: {type(exc).__name__}: {exc}"))
            continue
        sources.append(ProcessSource(
            key=key,
            name=process_node.get("name"),
            file_name=doc.file_name,
            source_xml=doc.text,
            spec=spec,
            subprocess_specs=subprocess_specs,
            # what runs each service task, who does each user task, what each call activity
            # calls, how Camunda 8 messages correlate: all read from this file's tree
            bindings={**events.user_task_people(doc.root), **calls.call_targets(doc.root),
                      **camunda_people.initiators(doc.root),
                      **events.zeebe_subscriptions(doc.root), **deployment.bindings.get(doc.file_name, {})},
            plan=plans[doc.file_name],
            units={unit: (parser.get_spec(process), parser.get_subprocess_specs(process))
                   for unit, process in plans[doc.file_name].units.items()},
        ))
        for element_id, entry in task_forms.get(doc.file_name, {}).items():
            sources[-1].bindings.setdefault(element_id, {}).update(entry)  # the task's form and instructions
        for element_id, entry in event_subprocesses.bindings(process_node).items():
            sources[-1].bindings.setdefault(element_id, {}).update(entry)  # isInterrupting
        if plain_task.SPIFF in (doc.root.nsmap or {}).values():  # its scripts see SpiffArena's names
            sources[-1].bindings[key] = {**sources[-1].bindings.get(key, {}), sandbox.SCRIPT_NAMES: "spiffarena"}
    return ([] if problems else sources), problems


CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# Camunda 7 reads its extensions under the namespace it forked from as its own; so does Baton.
ACTIVITI = "http://activiti.org/bpmn"


def _activiti_as_camunda(root: etree._Element) -> None:
    """Rename ``activiti``-namespace extension elements and attributes into Camunda's namespace."""
    prefix = f"{{{ACTIVITI}}}"
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag.startswith(prefix):
            el.tag = f"{{{CAMUNDA}}}{el.tag[len(prefix):]}"
        for name in [n for n in el.attrib if n.startswith(prefix)]:
            el.set(f"{{{CAMUNDA}}}{name[len(prefix):]}", el.attrib.pop(name))


def _storable(spec: Any, subprocess_specs: dict[str, Any]) -> None:
    """Convert the spec as deploy will store it, so a spec the serializer cannot hold is refused here."""
    _codec().spec_to_json(spec, subprocess_specs)


@lru_cache(maxsize=1)
def _codec() -> WorkflowCodec:
    return WorkflowCodec()


def _compile_decisions(doc: Document) -> list[Problem]:
    """Read each decision table of a DMN file as a business rule task will when it runs."""
    problems = []
    for decision in doc.root.iterfind("{*}decision"):
        try:
            decision_graph.compile_decision(doc.root, decision.get("id") or "", doc.file_name)
        except ValidationException as exc:
            problems.append(Problem(doc.file_name, decision.sourceline, decision.get("id"),
                                    _clean_message(str(exc))))
        except Exception as exc:  # a library bug must become a refusal, not a traceback
            problems.append(Problem(doc.file_name, decision.sourceline, decision.get("id"),
                                    f"the decision table cannot be read: {type(exc).__name__}: {exc}"))
    return problems


def _not_executable(doc: Document) -> Problem:
    if not doc.processes:
        return Problem(doc.file_name, doc.root.sourceline, doc.root.get("id"),
                       "the file defines no bpmn:process, so there is nothing to deploy")
    first = doc.processes[0]
    flags = sorted({f'isExecutable="{p.get("isExecutable")}"' if p.get("isExecutable") is not None
                    else "no isExecutable attribute" for p in doc.processes})
    what = "the process is not" if len(doc.processes) == 1 else f"none of the {len(doc.processes)} processes is"
    return Problem(doc.file_name, first.sourceline, first.get("id"),
                   f"no executable process: {what} marked isExecutable=\"true\" (found {', '.join(flags)}); "
                   "mark the process to run isExecutable=\"true\" to deploy it")


def _clean_message(message: str) -> str:
    """A SpiffWorkflow message as a reason: one line, no Python object reprs, one final dot at most."""
    message = message.split("\n")[0].strip()
    message = re.sub(r"<Element \{[^}]*\}(\w+) at 0x[0-9a-f]+>", r"bpmn:\1", message)
    message = re.sub(r"\.{2,}", ".", message).rstrip(". ")
    return message


def _from_validation(exc: ValidationException, doc: Document) -> Problem:
    element_id = getattr(exc, "id", None) or None
    node = doc.by_id.get(element_id) if element_id else None
    line = node.sourceline if node is not None else (getattr(exc, "line_number", None) or None)
    return Problem(getattr(exc, "file_name", None) or doc.file_name,
                   line if isinstance(line, int) else None, element_id, _clean_message(str(exc)))


