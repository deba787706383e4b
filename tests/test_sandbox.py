"""Scripts and conditions from diagrams cannot reach the host: each escape attempt becomes an
incident naming the rule and the line, a canary file stays untouched, the engine keeps serving."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest

CANARY_TEXT = "untouched"

SCRIPT_ATTEMPTS = [
    "import os\nos.system('echo owned > {canary}')",
    "from os import system\nsystem('rm {canary}')",
    "import subprocess",
    "__import__('os').remove('{canary}')",
    "x = ().__class__.__base__.__subclasses__()",
    "x = getattr((), '__class__')",
    "x = getattr(getattr, '__globals__')",
    "x = '{{0.__class__}}'.format(1)",
    "x = '{{x}}'.format_map({{'x': 1}})",
    "g = (i for i in [1])\nf = g.gi_frame.f_back.f_globals",
    "g = (i for i in [1])\nf = getattr(g, 'gi_frame')",
    "x = eval('1 + 1')",
    "exec('y = 1')",
    "c = compile('1', 'x', 'eval')",
    "f = open('{canary}', 'w')\nf.write('owned')",
    "data = open('/etc/passwd').read()",
    "x = globals()",
    "x = locals()",
    "x = vars()",
    "x = dir()",
    "breakpoint()",
    "class Evil:\n    pass",
    "x = (lambda: 0).__code__",
    "try:\n    1 / 0\nexcept Exception as e:\n    tb = e.__traceback__",
    "x = str.mro()",
    "x = datetime.now().__reduce__()",
    "x = type(1)",
    "x = 'a' * (10 ** 10)",
    "x = [0] * (10 ** 9)",
    "while True:\n    pass",
    "def f():\n    return f()\nf()",
    "x = bytearray(10 ** 10)",
    "setattr(datetime, 'now', None)",
    "x = memoryview(b'1')",
]

CONDITION_ATTEMPTS = [
    "__import__('os').system('rm {canary}') == 0",
    "().__class__.__base__ is None",
    "open('{canary}').read() == 'x'",
    "len([0] * (10 ** 10)) > 0",
    "getattr(len, '__self__') is None",
    "eval('1') == 1",
]

SCRIPT_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:scriptTask id="attempt" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="attempt"/>
    <bpmn:sequenceFlow id="f2" sourceRef="attempt" targetRef="end"/>
  </bpmn:process>
</bpmn:definitions>"""

CONDITION_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="{key}" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:exclusiveGateway id="decide" default="other"/>
    <bpmn:endEvent id="yes"/>
    <bpmn:endEvent id="no"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide"/>
    <bpmn:sequenceFlow id="attempt" sourceRef="decide" targetRef="yes">
      <bpmn:conditionExpression>{condition}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="other" sourceRef="decide" targetRef="no"/>
  </bpmn:process>
</bpmn:definitions>"""

OK_PROCESS = SCRIPT_PROCESS.format(key="still_serving", script="total = sum([1, 2, 3])\ntotal += 1")


@pytest.fixture
def engine(bare_engine):  # type: ignore[no-untyped-def]
    bare_engine.deploy([("ok.bpmn", OK_PROCESS.encode())])
    return bare_engine


@pytest.fixture
def canary(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "canary.txt"
    path.write_text(CANARY_TEXT)
    return path


def assert_contained(engine, key: str, xml: str, canary, element: str = "attempt") -> str:  # type: ignore[no-untyped-def]
    engine.deploy([(f"{key}.bpmn", xml.encode())])
    instance_id = engine.start(key)
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "incident", doc["history"]
    [incident] = doc["incidents"]
    assert incident["element_id"] == element
    assert canary.read_text() == CANARY_TEXT
    follow_up = engine.start("still_serving")
    assert engine.get_instance(follow_up)["variables"]["total"] == 7
    return incident["message"]


@pytest.mark.parametrize("attempt", SCRIPT_ATTEMPTS)
def test_script_escape_becomes_an_incident(engine, canary, attempt):  # type: ignore[no-untyped-def]
    script = escape(attempt.format(canary=canary))
    key = f"escape_{abs(hash(attempt)) % 10**8}"
    message = assert_contained(engine, key, SCRIPT_PROCESS.format(key=key, script=script), canary)
    assert message.startswith("attempt: ")


@pytest.mark.parametrize("attempt", CONDITION_ATTEMPTS)
def test_condition_escape_becomes_an_incident(engine, canary, attempt):  # type: ignore[no-untyped-def]
    condition = escape(attempt.format(canary=canary))
    key = f"cond_{abs(hash(attempt)) % 10**8}"
    message = assert_contained(engine, key, CONDITION_PROCESS.format(key=key, condition=condition), canary,
                               element="decide")
    assert "expression" in message


def test_the_incident_says_which_rule_and_which_line(engine, canary):  # type: ignore[no-untyped-def]
    script = "a = 1\nb = 2\nx = ().__class__"
    message = assert_contained(engine, "rule_line", SCRIPT_PROCESS.format(key="rule_line", script=script), canary)
    assert "line 3" in message and "__class__" in message


def test_an_endless_loop_is_stopped_by_the_time_limit(engine, canary):  # type: ignore[no-untyped-def]
    script = "n = 0\nwhile True:\n    n += 1"
    message = assert_contained(engine, "endless", SCRIPT_PROCESS.format(key="endless", script=script), canary)
    assert "time limit" in message


def test_a_retried_script_incident_runs_the_script_again(engine):  # type: ignore[no-untyped-def]
    script = "result = 10 / divisor"
    engine.deploy([("div.bpmn", SCRIPT_PROCESS.format(key="divide", script=script).encode())])
    instance_id = engine.start("divide", {"divisor": 0})
    doc = engine.get_instance(instance_id)
    assert doc["status"] == "incident" and "ZeroDivisionError" in doc["incidents"][0]["message"]
    assert "line 1" in doc["incidents"][0]["message"]
    # the incident stays until the cause is fixed; retrying with the same data fails again
    engine.retry_incident(doc["incidents"][0]["id"])
    assert engine.get_instance(instance_id)["status"] == "incident"


# SpiffArena's diagrams see SpiffArena's script names (datetime, time, json...): each a namespace of
# safe functions and classes, never the module, so none leads to os, sys or a module's globals.
SPIFF_SCRIPT_PROCESS = SCRIPT_PROCESS.replace(
    'id="d"', 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d"')

SPIFF_ATTEMPTS = [
    "import os\nos.system('echo owned > {canary}')",
    "from os import system\nsystem('rm {canary}')",
    "import subprocess",
    "from time import os",
    "import datetime.sys",
    "x = datetime._attributes",
    "x = getattr(time, '_attributes')",
    "x = getattr(datetime, '_fallback')",
    "x = json.loads.__globals__",
    "x = getattr(random.choice, '__self__')",
    "x = datetime.datetime.now().__reduce__()",
    "datetime.now = None",
    "x = uuid.uuid1()",
    "x = type(datetime)",
    "f = open('{canary}', 'w')",
]


@pytest.mark.parametrize("attempt", SPIFF_ATTEMPTS)
def test_a_spiffarena_script_cannot_escape_through_its_names(engine, canary, attempt):  # type: ignore[no-untyped-def]
    script = escape(attempt.format(canary=canary))
    key = f"spiff_escape_{abs(hash(attempt)) % 10**8}"
    message = assert_contained(engine, key, SPIFF_SCRIPT_PROCESS.format(key=key, script=script), canary)
    assert message.startswith("attempt: ")


SPIFF_NAMES_SCRIPT = """\
import json
from datetime import timedelta as td
tomorrow = (datetime.now() + timedelta(days=1)).date().isoformat()
module_style = datetime.datetime.now().date() + datetime.timedelta(days=1) == datetime.date.today() + td(days=1)
stamp = datetime.datetime.utcnow().timestamp() > 0 and time.time() > 0
total = str(decimal.Decimal('0.10') + decimal.Decimal('0.20'))
text = json.dumps({'n': 1})
words = re.split(',', 'a,b')
id_length = len(str(uuid.uuid4()))
days_in_feb = calendar.monthrange(2024, 2)[1]
"""


def test_a_spiffarena_script_sees_spiffarena_names_and_a_camunda_one_does_not(engine):  # type: ignore[no-untyped-def]
    engine.deploy([("names.bpmn", SPIFF_SCRIPT_PROCESS.format(key="spiff_names", script=escape(SPIFF_NAMES_SCRIPT))
                    .encode())])
    doc = engine.get_instance(engine.start("spiff_names"))
    assert doc["status"] == "completed", doc["incidents"]
    got = doc["variables"]
    assert got["module_style"] is True and got["stamp"] is True and got["total"] == "0.30"
    assert got["text"] == '{"n": 1}' and got["words"] == ["a", "b"] and got["id_length"] == 36
    assert got["days_in_feb"] == 29 and len(got["tomorrow"]) == 10
    assert not {"datetime", "time", "json", "td"} & set(got)  # names are not data
    # a diagram of another dialect keeps Baton's names: datetime is the class, there is no json
    engine.deploy([("plain.bpmn", SCRIPT_PROCESS.format(key="plain_names", script="x = json.dumps(1)").encode())])
    doc = engine.get_instance(engine.start("plain_names"))
    assert doc["status"] == "incident" and "json" in doc["incidents"][0]["message"]
