"""What Baton does with every extension of the four dialects it reads: it runs it, or refuses it.

A diagram carries extension elements and attributes of Camunda 7 (``camunda:``, and
``activiti:`` read as Camunda), Camunda 8 / Zeebe (``zeebe:``), SpiffArena (``spiffworkflow:``)
and the bpmn.io modellers' own metadata (``modeler:``, ``bioc:``, ``color:``). Each name of those
namespaces is in :data:`ELEMENTS` or :data:`ATTRIBUTES` with its treatment:

- ``runs``: Baton executes it (the note says where);
- ``refused``: deploy refuses the diagram, naming the element and this reason;
- ``checked``: ``checks.py`` runs it or refuses it with a more precise reason (e.g. a Java
  listener, a JUEL mapping), so this module stays silent about it;
- ``ignored``: it only concerns drawing or editing (colours, modeller versions, template
  bookkeeping), the short list in ``docs/dialects.md``.

A name of these namespaces that is in neither table is refused, so a construct a newer modeller
writes is never silently dropped. Other vendors' namespaces (Signavio, Trisotech, ...) are not
dialects Baton runs; their metadata is not read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MODELER = "http://camunda.org/schema/modeler/1.0"
BIOC = "http://bpmn.io/schema/bpmn/biocolor/1.0"
COLOR = "http://www.omg.org/spec/BPMN/non-normative/color/1.0"
PREFIXES = {CAMUNDA: "camunda", ZEEBE: "zeebe", SPIFF: "spiffworkflow", MODELER: "modeler", BIOC: "bioc",
            COLOR: "color"}
DIALECT_OF = {"camunda": "Camunda 7", "zeebe": "Camunda 8 (Zeebe)", "spiffworkflow": "SpiffArena",
              "modeler": "bpmn.io modeller metadata", "bioc": "bpmn.io modeller metadata",
              "color": "bpmn.io modeller metadata"}

Refuse = Callable[[etree._Element, str], None]


@dataclass(frozen=True)
class Treatment:
    verdict: str  # runs | refused | checked | ignored
    note: str


def runs(note: str) -> Treatment:
    return Treatment("runs", note)


def refused(note: str) -> Treatment:
    return Treatment("refused", note)


def checked(note: str) -> Treatment:
    return Treatment("checked", note)


def ignored(note: str) -> Treatment:
    return Treatment("ignored", note)


_JAVA = checked("a Java delegate: runs when BATON_ENDPOINTS binds it (delegates.py), else refused")
_LISTENER = checked("a Java/JUEL hook: refused by checks.py; model the step as a task")
_C7_MAPPING = checked("Camunda 7 variable mappings: inputOutput runs (_bpmn/camunda_io.py), camunda:in/out on call "
                      "activities run (_bpmn/camunda_calls.py), a connector's url/method run; checks.py refuses "
                      "what they cannot")
_FORM_FIELDS = checked("Camunda 7 generated form fields: decided by checks.py and engine/usertasks.py")
_DRAWING = ignored("drawing only: colours of shapes in the modeller")

ELEMENTS: dict[str, Treatment] = {
    # Camunda 7
    "camunda:connector": runs("http-connector: a call to its url with its method (checks.py)"),
    "camunda:connectorId": runs("names the connector; only http-connector is accepted (checks.py)"),
    "camunda:inputOutput": _C7_MAPPING,
    "camunda:inputParameter": _C7_MAPPING,
    "camunda:outputParameter": _C7_MAPPING,
    "camunda:in": _C7_MAPPING,
    "camunda:out": _C7_MAPPING,
    "camunda:map": _C7_MAPPING,
    "camunda:list": _C7_MAPPING,
    "camunda:entry": _C7_MAPPING,
    "camunda:value": _C7_MAPPING,
    "camunda:script": checked("a script inside a mapping or listener: decided with its parent by checks.py"),
    "camunda:executionListener": _LISTENER,
    "camunda:taskListener": _LISTENER,
    "camunda:field": checked("field injection into a Java delegate: refused with the delegate by checks.py"),
    "camunda:string": checked("field injection value: refused with its delegate by checks.py"),
    "camunda:expression": checked("field injection value: refused with its delegate by checks.py"),
    "camunda:formData": _FORM_FIELDS,
    "camunda:formField": _FORM_FIELDS,
    "camunda:validation": _FORM_FIELDS,
    "camunda:constraint": _FORM_FIELDS,
    "camunda:properties": ignored("read only by Java plugins; Camunda's engine itself does nothing with them"),
    "camunda:property": ignored("read only by Java plugins; Camunda's engine itself does nothing with them"),
    # Camunda 8
    "zeebe:taskDefinition": runs("type names the endpoint (BATON_ENDPOINTS); a FEEL type (=...) is evaluated when "
                                 "the task is reached, an unbound result is an incident (_bpmn/feel_targets.py); "
                                 "retries is how many times the job is tried (else the endpoint's retries)"),
    "zeebe:ioMapping": runs("inputs into the task's scope, outputs back to the process (_bpmn/task_scope.py)"),
    "zeebe:input": runs("a FEEL source (or static text) set as a local variable of the task; dotted targets"),
    "zeebe:output": runs("a FEEL source over the task's variables, merged into the process; dotted targets"),
    "zeebe:taskHeaders": runs("sent with the call: HTTP headers to an HTTP endpoint, JobCall.headers to a Python "
                              "handler (_bpmn/task_headers.py)"),
    "zeebe:header": runs("one task header (key, value); for an HTTP endpoint, a name that is no HTTP field name "
                         "is refused"),
    "zeebe:calledElement": runs("processId is the call activity's calledElement (FEEL: evaluated when the call is "
                                "reached, _bpmn/feel_targets.py); propagateAllChildVariables=false brings back only "
                                "the output mappings (_bpmn/dialect_translation.py)"),
    "zeebe:calledDecision": runs("decisionId names the DMN decision, looked up when the task is reached by "
                                 "bindingType (latest, deployment, versionTag; _bpmn/decision_binding.py); "
                                 "resultVariable holds its result (one output: the value, several: a context)"),
    "zeebe:loopCharacteristics": runs("inputCollection (FEEL) and inputElement, as Camunda 7's collection and "
                                      "elementVariable; outputElement collected into outputCollection in input "
                                      "order (_bpmn/zeebe_loops.py)"),
    "zeebe:subscription": runs("correlationKey: FEEL evaluated over the waiting task (messages.py); a publisher "
                               "names it by its text (=order.id: correlation {\"order.id\": ...})"),
    "zeebe:assignmentDefinition": runs("assignee, candidateUsers, candidateGroups as the task's people; FEEL is "
                                       "evaluated when the task is ready (_bpmn/camunda_people.py)"),
    "zeebe:formDefinition": runs("the user task's Camunda form: formId names a .form file deployed with the "
                                 "diagram, rendered on the task page and validated on submit (engine/forms)"),
    "zeebe:userTaskForm": runs("a Camunda form embedded in the process (formKey camunda-forms:bpmn:ID)"),
    "zeebe:userTask": runs("marks a Camunda user task (not a job worker's): Baton's user tasks"),
    "zeebe:properties": refused("zeebe:properties configure Camunda connectors (inbound connectors, "
                                "authentication); Baton runs no connector runtime"),
    "zeebe:property": refused("zeebe:properties configure Camunda connectors (inbound connectors, "
                              "authentication); Baton runs no connector runtime"),
    "zeebe:versionTag": ignored("a label for the modeller and Operate; Baton numbers versions at deploy"),
    "zeebe:adHoc": refused("ad-hoc sub-processes are not supported"),
    # SpiffArena
    "spiffworkflow:preScript": runs("Python, in the script sandbox, when the task becomes ready "
                                    "(_bpmn/task_scope.py)"),
    "spiffworkflow:postScript": runs("Python, in the script sandbox, when the task completes (_bpmn/task_scope.py)"),
    "spiffworkflow:serviceTaskOperator": runs("its id names the endpoint (BATON_ENDPOINTS), like a topic"),
    "spiffworkflow:parameters": runs("serviceTaskOperator parameters: Python expressions evaluated at ready and "
                                     "passed to the call as variables of the task (_bpmn/task_scope.py)"),
    "spiffworkflow:parameter": runs("one serviceTaskOperator parameter (id, value); one without a value is not sent"),
    "spiffworkflow:instructionsForEndUser": runs("Markdown with {{ variables }} on the page of a user or manual "
                                                 "task, sandboxed and escaped (engine/forms); refused elsewhere"),
    "spiffworkflow:properties": checked("each spiffworkflow:property is decided by its name"),
    "spiffworkflow:property": checked("formJsonSchemaFilename / formUiSchemaFilename: the user task's JSON Schema "
                                      "form, deployed with the diagram (engine/forms); any other name is refused"),
    "spiffworkflow:unitTests": ignored("script unit tests SpiffArena's editor runs while editing"),
    "spiffworkflow:unitTest": ignored("script unit tests SpiffArena's editor runs while editing"),
    "spiffworkflow:inputJson": ignored("script unit tests SpiffArena's editor runs while editing"),
    "spiffworkflow:expectedOutputJson": ignored("script unit tests SpiffArena's editor runs while editing"),
    "spiffworkflow:calledDecisionId": runs("the DMN decision a business rule task evaluates, its latest version "
                                           "when the task is reached (_bpmn/decision_binding.py)"),
    "spiffworkflow:messagePayload": runs("Python, evaluated in the script sandbox when the message is thrown: the "
                                         "message's body, a dict (_bpmn/spiff_events.py)"),
    "spiffworkflow:messageVariable": runs("where a catch stores the message's body (_bpmn/spiff_events.py); "
                                          "correlation values are recorded per conversation and correlation key "
                                          "(messages.py)"),
    "spiffworkflow:processVariableCorrelation": runs("a catch's matching condition: when it starts waiting, the "
                                                     "expression over its data is the value it waits for in that "
                                                     "property, in the correlation keys that use it "
                                                     "(_bpmn/spiff_correlation.py); refused off a catch or for a "
                                                     "property the message has no retrieval expression for"),
    "spiffworkflow:propertyId": runs("the correlation property of a processVariableCorrelation"),
    "spiffworkflow:expression": runs("the Python expression of a processVariableCorrelation, in the sandbox"),
    "spiffworkflow:payloadExpression": runs("on a bpmn:error, escalation or signal: Python evaluated at the throw, "
                                            "the event's payload (_bpmn/spiff_events.py)"),
    "spiffworkflow:variableName": runs("on a bpmn:error, escalation or signal: where the catch stores the payload "
                                       "(_bpmn/spiff_events.py)"),
    "spiffworkflow:allowGuest": refused("guest (anonymous) task completion is not supported: every user task "
                                        "needs a signed-in user"),
    "spiffworkflow:guestConfirmation": refused("guest (anonymous) task completion is not supported"),
    "spiffworkflow:signalButtonLabel": refused("signal buttons on the task page are not supported"),
    "spiffworkflow:category": refused("spiffworkflow:category is not read by Baton"),
}

ATTRIBUTES: dict[str, Treatment] = {
    # Camunda 7
    "camunda:assignee": runs("the task's assignee (engine/usertasks.py)"),
    "camunda:candidateUsers": runs("who may claim the task (engine/usertasks.py)"),
    "camunda:candidateGroups": runs("which groups may claim the task (engine/usertasks.py)"),
    "camunda:formKey": runs("a user task's or none start event's form (engine/forms/_camunda7.py): "
                            "camunda-forms:deployment:NAME.form and embedded:deployment:NAME.html deployed with the "
                            "diagram are shown and validated; app: (a Java web application's) and external keys "
                            "are refused"),
    "camunda:formRef": runs("a Camunda Form deployed with the diagram, by its id (engine/forms/_camunda7.py)"),
    "camunda:formRefBinding": runs("latest and deployment: the form deployed with the diagram; version is refused"),
    "camunda:formRefVersion": checked("only with formRefBinding=\"version\", which engine/forms/_camunda7.py "
                                      "refuses"),
    "camunda:type": runs("\"external\": the task is a job for the endpoint of camunda:topic"),
    "camunda:topic": runs("names the endpoint (BATON_ENDPOINTS)"),
    "camunda:asyncBefore": checked("a commit point before the element, on every task, gateway and event Camunda 7 "
                                   "takes it on: a continue job goes on from it (_bpmn/commit_points.py); refused "
                                   "where Baton cannot honour it, naming the element"),
    "camunda:asyncAfter": checked("a commit point after the element: it completes, a continue job takes its "
                                  "outgoing flows (_bpmn/commit_points.py); refused where Baton cannot honour it"),
    "camunda:async": checked("older spelling of asyncBefore"),
    "camunda:exclusive": runs("Baton runs one advance of an instance at a time (its row is locked)"),
    "camunda:class": _JAVA,
    "camunda:delegateExpression": _JAVA,
    "camunda:expression": _JAVA,
    "camunda:resource": checked("external script resource: refused by checks.py"),
    "camunda:resultVariable": checked("on a camunda:expression service task it takes the expression's value "
                                      "(_bpmn/delegates.py), on a business rule task the decision's result "
                                      "(_bpmn/decision_binding.py); anywhere else refused there"),
    "camunda:taskPriority": runs("the priority external workers fetch the task by (camunda:type=\"external\")"),
    "camunda:collection": runs("multi-instance collection (SpiffWorkflow's Camunda parser)"),
    "camunda:elementVariable": runs("multi-instance element variable (SpiffWorkflow's Camunda parser)"),
    "camunda:calledElementBinding": runs("which version a call activity calls (calls.py)"),
    "camunda:calledElementVersion": runs("the version a call activity pins (calls.py)"),
    "camunda:calledElementTenantId": runs("Baton has one tenant (as tenant-id on a deployment): the call finds "
                                          "calledElement among all deployed processes"),
    "camunda:decisionRef": runs("the DMN decision a business rule task evaluates, looked up when the task is "
                                "reached (a JUEL id is evaluated then); one not deployed then is an incident "
                                "naming it (_bpmn/decision_binding.py)"),
    "camunda:decisionRefBinding": checked("latest (the default: the newest version when the task is reached), "
                                          "deployment (the one deployed with the diagram, refused when the "
                                          "deployment has none), version, versionTag; any other value is refused "
                                          "(_bpmn/decision_binding.py)"),
    "camunda:decisionRefVersion": checked("the version a business rule task pins (a number or JUEL) with "
                                          "decisionRefBinding=\"version\"; refused with another binding"),
    "camunda:decisionRefVersionTag": checked("the DMN camunda:versionTag a business rule task takes the newest "
                                             "version of, with decisionRefBinding=\"versionTag\"; refused with "
                                             "another binding"),
    "camunda:decisionRefTenantId": runs("Baton has one tenant: the decision is found among all deployed ones"),
    "camunda:mapDecisionResult": checked("resultList (the default), singleResult, singleEntry, collectEntries "
                                         "into camunda:resultVariable; refused without one "
                                         "(_bpmn/decision_binding.py)"),
    "camunda:historyTimeToLive": ignored("history clean-up is one setting in Baton (engine/retention.py), "
                                         "not per diagram"),
    "camunda:isStartableInTasklist": ignored("a Tasklist start-form flag; Baton starts any deployed process"),
    "camunda:versionTag": ignored("a label for the modeller and Cockpit; Baton numbers versions at deploy"),
    "camunda:diagramRelationId": ignored("editing only: links a diagram to its Cawemo/Web Modeler copy"),
    "camunda:candidateStarterGroups": refused("start authorization per process is not supported"),
    "camunda:candidateStarterUsers": refused("start authorization per process is not supported"),
    "camunda:initiator": runs("the variable that holds the user who started the instance "
                              "(_bpmn/camunda_people.py)"),
    # Camunda 8
    "zeebe:modelerTemplate": ignored("editing only: the element template the modeller applied"),
    "zeebe:modelerTemplateVersion": ignored("editing only: the element template's version"),
    "zeebe:modelerTemplateIcon": ignored("drawing only: the element template's icon"),
    # SpiffArena
    "spiffworkflow:scriptsOnInstances": runs("pre/post scripts run on each instance instead of around the loop"),
    "spiffworkflow:isMatchingCorrelation": ignored("editing only: SpiffArena's editor shows a catch's matching "
                                                   "conditions (processVariableCorrelation), which run"),
    "spiffworkflow:isOutputSynced": ignored("editing only: SpiffArena's editor keeps a loop's outputDataItem equal to "
                                            "its inputDataItem; the XML carries both, which run"),
    # bpmn.io modeller metadata
    "modeler:executionPlatform": ignored("editing only: which engine the modeller targets"),
    "modeler:executionPlatformVersion": ignored("editing only: which engine version the modeller targets"),
    "bioc:fill": _DRAWING,
    "bioc:stroke": _DRAWING,
    "color:background-color": _DRAWING,
    "color:border-color": _DRAWING,
    "color:color": _DRAWING,
}

_UNKNOWN = "is not a {dialect} construct Baton knows; it would be dropped, so the diagram is refused"


def qualified(tag: str) -> str | None:
    """``{namespace}local`` as ``prefix:local`` when the namespace is one of the four dialects."""
    if not tag.startswith("{"):
        return None
    ns, local = tag[1:].split("}", 1)
    prefix = PREFIXES.get(ns)
    return f"{prefix}:{local}" if prefix else None


def element_treatment(name: str) -> Treatment:
    return ELEMENTS.get(name) or refused(f"{name} " + _UNKNOWN.format(dialect=DIALECT_OF[name.split(':')[0]]))


def attribute_treatment(name: str) -> Treatment:
    return ATTRIBUTES.get(name) or refused(f"{name} " + _UNKNOWN.format(dialect=DIALECT_OF[name.split(':')[0]]))


_CONNECTOR_PARAMETERS = ("url", "method", "headers")


def _in_connector(el: etree._Element) -> bool:
    node = el.getparent()
    while node is not None and qualified(node.tag) != "camunda:connector":
        node = node.getparent()
    return node is not None


_FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")


def check(root: etree._Element, executable: list[etree._Element], refuse: Refuse) -> None:
    """Refuse every dialect extension of the deployed parts of ``root`` that Baton would drop.

    The deployed parts are the executable processes and what sits beside them at the top (messages,
    errors, signals); a process that is not executable is not deployed, so not checked."""
    skipped = {p for p in root.iterfind(f"{{{BPMN}}}process") if p not in executable}
    for top in root:
        if top in skipped or not isinstance(top.tag, str):
            continue
        for el in top.iter():
            if not isinstance(el.tag, str):
                continue
            name = qualified(el.tag)
            if name is not None:
                _check_element(el, name, refuse)
            for attr in el.attrib:
                attr_name = qualified(attr)
                if attr_name is None:
                    continue
                treatment = attribute_treatment(attr_name)
                if treatment.verdict == "refused":
                    refuse(el, f"{attr_name}={el.get(attr)!r}: {treatment.note}")


def _check_element(el: etree._Element, name: str, refuse: Refuse) -> None:
    treatment = element_treatment(name)
    if name == "spiffworkflow:property":
        prop = el.get("name") or ""
        if prop not in _FORM_PROPERTIES:
            refuse(el, f"spiffworkflow:property {prop!r} is not read by Baton (it reads the form file names "
                       f"{', '.join(_FORM_PROPERTIES)})")
        return
    parent = el.getparent()
    if name in ("camunda:inputParameter", "camunda:outputParameter") and _in_connector(el):
        param = el.get("name") or ""
        script = el.find(f"{{{CAMUNDA}}}script")
        if name == "camunda:outputParameter" and script is not None:
            fmt = script.get("scriptFormat") or ""
            refuse(el, f"http-connector outputParameter {param!r} runs a {fmt} script (camunda:script), which Baton "
                       "cannot run: Baton merges the JSON object the endpoint answers into the variables; compute "
                       "the value in a Python script task after the call")
        elif name == "camunda:outputParameter":
            refuse(el, f"http-connector outputParameter {param!r} is not applied: Baton merges the JSON object "
                       "the endpoint answers into the variables; remove the mapping")
        elif param not in _CONNECTOR_PARAMETERS:
            refuse(el, f"http-connector parameter {param!r} is not sent: Baton sends the variables as JSON to "
                       f"'url' with 'method' and 'headers' and reads no other parameter")
        return
    if treatment.verdict == "refused":
        # one refusal per construct: the children of a refused element are not repeated
        if parent is not None and qualified(parent.tag) is not None \
                and element_treatment(qualified(parent.tag) or "").verdict == "refused":
            return
        refuse(el, f"{name}: {treatment.note}")
