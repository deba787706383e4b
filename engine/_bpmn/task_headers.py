"""``zeebe:taskHeaders``: static key/value pairs a Zeebe job carries to its worker; and the
``retries`` of ``zeebe:taskDefinition``: how many times the job is tried (Zeebe's count of
attempts; without it, the endpoint's own ``retries`` setting).

Read at deploy into the task's binding (element id -> ``{"headers": {...}}``), put in the job's
payload when the task starts (``outbox.py``), and sent with the call: as HTTP request headers to
an HTTP endpoint (``adapters/endpoints/http.py``), as :attr:`engine.JobCall.headers` to a Python
handler that takes the call. A header name that is not a valid HTTP field name, or that would
replace one Baton sends itself (``Idempotency-Key``, ``traceparent``, ``X-Baton-*``), is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP field name (RFC 9110 token)
_RESERVED = ("idempotency-key", "traceparent", "content-type", "content-length", "host")
Refuse = Callable[[etree._Element, str], None]


def task_headers(processes: list[etree._Element], refuse: Refuse,
                 python_tasks: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """element id -> {"headers": {key: value}} for the tasks of ``processes`` that have headers.

    A task in ``python_tasks`` (bound to a Python endpoint) may have header names that could not
    be HTTP field names: the handler reads them from ``JobCall.headers``."""
    found: dict[str, dict[str, Any]] = {}
    for process in processes:
        for block in process.iter(f"{{{ZEEBE}}}taskHeaders"):
            owner = block.getparent().getparent() if block.getparent() is not None else None
            if owner is None:
                continue
            headers: dict[str, str] = {}
            for header in block.iterfind(f"{{{ZEEBE}}}header"):
                key, value = (header.get("key") or "").strip(), header.get("value") or ""
                python = owner.get("id") in python_tasks
                if not key or (not python and not _TOKEN.match(key)):
                    refuse(owner, f"zeebe:header {key!r} is not a valid HTTP header name, which Baton sends it as "
                                  "to this task's endpoint")
                elif not python and (key.lower() in _RESERVED or key.lower().startswith("x-baton-")):
                    refuse(owner, f"zeebe:header {key!r} would replace a header Baton sends itself; rename it")
                elif any(c in value for c in "\r\n"):
                    refuse(owner, f"zeebe:header {key!r} has a line break in its value")
                else:
                    headers[key] = value
            if headers:
                found[owner.get("id", "")] = {"headers": headers}
    return found


def http_header_problem(key: str, value: str) -> str | None:
    """Why ``key: value`` cannot be sent as an HTTP request header by Baton, or None."""
    if not key or not _TOKEN.match(key):
        return f"{key!r} is not a valid HTTP header name"
    if key.lower() in _RESERVED or key.lower().startswith("x-baton-"):
        return f"{key!r} would replace a header Baton sends itself; rename it"
    if any(c in value for c in "\r\n"):
        return f"{key!r} has a line break in its value"
    return None


def python_tasks(bindings: dict[str, dict[str, Any]], endpoints: Any) -> frozenset[str]:
    """The tasks bound to a Python endpoint: their header names need not be HTTP field names."""
    return frozenset(element_id for element_id, binding in bindings.items() if "endpoint" not in binding
                     and getattr(endpoints.resolve(binding.get("topic") or ""), "kind", "") == "python")


def task_retries(processes: list[etree._Element], refuse: Refuse) -> dict[str, dict[str, Any]]:
    """element id -> {"retries": attempts} for the tasks whose zeebe:taskDefinition sets retries."""
    found: dict[str, dict[str, Any]] = {}
    for process in processes:
        for definition in process.iter(f"{{{ZEEBE}}}taskDefinition"):
            raw = (definition.get("retries") or "").strip()
            owner = definition.getparent().getparent() if definition.getparent() is not None else None
            if not raw or owner is None:
                continue
            if not raw.isdigit() or int(raw) < 1:
                refuse(owner, f"zeebe:taskDefinition retries {raw!r}: Baton takes a whole number of attempts, at "
                              "least 1 (a FEEL expression is not evaluated here)")
                continue
            found[owner.get("id", "")] = {"retries": int(raw)}
    return found
