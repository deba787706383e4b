"""Which JUEL trees Baton evaluates: no function, bean or method calls, and of ``execution``
only the members below. :func:`check_subset` refuses the rest at the first offending part,
quoting it, so deploy can say what to change.
"""

from __future__ import annotations

from ._ast import Bracket, Call, Dot, Function, Identifier, Nested, Node, children, depth
from ._errors import JuelUnsupported
from ._grammar import MAX_DEPTH

EXECUTION = "execution"
# member -> (arity, what it is), for execution.member and execution.member(...)
EXECUTION_PROPERTIES = {
    "processBusinessKey": "business_key", "businessKey": "business_key", "id": "id",
    "processInstanceId": "process_instance_id",
}
_METHODS = {
    "getVariable": 1, "setVariable": 2, "hasVariable": 1, "getProcessBusinessKey": 0, "getBusinessKey": 0,
    "getId": 0, "getProcessInstanceId": 0,
}
EXECUTION_GETTERS = {"getProcessBusinessKey": "business_key", "getBusinessKey": "business_key", "getId": "id",
                     "getProcessInstanceId": "process_instance_id"}
_OFFERED = ("execution.getVariable('x'), execution.setVariable('x', value), execution.hasVariable('x'), "
            "execution.processBusinessKey, execution.id, execution.processInstanceId")


# --- which trees Baton evaluates -----------------------------------------------------------

def check_subset(tree: Node, text: str) -> None:
    """Raise :class:`JuelUnsupported` at the first part of ``tree`` outside Baton's subset."""
    if depth(tree) > MAX_DEPTH:
        raise JuelUnsupported(f"the expression is nested too deeply (a tree deeper than {MAX_DEPTH})", 0, text)
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Function):
            raise JuelUnsupported(f"function call {quoted_source(node, text)} is not supported: Baton calls no "
                                  "functions, beans or methods", node.start, text)
        if isinstance(node, Call):
            _check_call(node, text)  # only execution.<method>(...) passes: check its arguments
            stack.extend(reversed(node.arguments))
            continue
        if isinstance(node, Dot) and is_execution(node.base):
            if node.name not in EXECUTION_PROPERTIES:
                raise JuelUnsupported(f"{quoted_source(node, text)} is not supported: of execution, Baton offers "
                                      f"{_OFFERED}", node.start, text)
            continue
        elif isinstance(node, Bracket) and is_execution(node.base):
            raise JuelUnsupported(f"{quoted_source(node, text)} is not supported: of execution, Baton offers "
                                  f"{_OFFERED}", node.start, text)
        elif is_execution(node):
            raise JuelUnsupported("'execution' on its own is not supported: Baton offers "
                                  f"{_OFFERED}", node.start, text)
        stack.extend(reversed(children(node)))


def _check_call(node: Call, text: str) -> None:
    target = node.target
    if isinstance(target, Dot) and is_execution(target.base) and target.name in _METHODS:
        wanted = _METHODS[target.name]
        if len(node.arguments) != wanted:
            raise JuelUnsupported(f"execution.{target.name} takes {wanted} argument{'s' if wanted != 1 else ''}, "
                                  f"not {len(node.arguments)}", node.start, text)
        return
    if isinstance(target, Dot) and is_execution(target.base):
        raise JuelUnsupported(f"method call {quoted_source(node, text)} is not supported: of execution, Baton offers "
                              f"{_OFFERED}", node.start, text)
    inner: Node = target  # name the first call of a chain: customer.prop('age'), not all of it
    while isinstance(inner, Dot | Bracket | Call):
        inner = inner.target if isinstance(inner, Call) else inner.base
        if isinstance(inner, Call):
            node = inner
    if isinstance(inner, Function):
        raise JuelUnsupported(f"function call {quoted_source(inner, text)} is not supported: Baton calls no "
                              "functions, beans or methods", inner.start, text)
    raise JuelUnsupported(f"method call {quoted_source(node, text)} is not supported: Baton evaluates no bean or "
                          f"method calls (only {_OFFERED})", node.start, text)


def is_execution(node: Node) -> bool:
    while isinstance(node, Nested):
        node = node.expression
    return isinstance(node, Identifier) and node.name == EXECUTION


def quoted_source(node: Node, text: str, limit: int = 60) -> str:
    source = text[node.start:node.end]
    return repr(source if len(source) <= limit else source[:limit - 3] + "...")


def identifiers(tree: Node) -> list[str]:
    """The variable names ``tree`` reads directly (not through execution.getVariable), in order."""
    found: list[str] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Identifier) and node.name != EXECUTION and node.name not in found:
            found.append(node.name)
        stack.extend(reversed(children(node)))
    return found

