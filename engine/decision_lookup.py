"""The decision repository a business rule task asks when it runs (``_bpmn/decision_binding.py``).

A decision's versions are the deployments that carried it (``decision_source`` rows), 1, 2... in
deployment order, the numbering ``engine.decisions`` shows. :class:`DecisionRepository` reads
them in the advance's own transaction, so a decision deployed a moment ago is the latest for the
next task that reaches it. A row never changes once written, so its compiled table (and its DMN
``camunda:versionTag``) is kept per process, keyed by the row's id.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ._bpmn import decision_graph
from ._bpmn.decision_binding import DecisionUnavailable, ResolvedDecision
from ._bpmn.xmlsafe import parse_document
from .decisions import in_version_order
from .models import DecisionSource, ProcessDefinition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DMN_CAMUNDA = "http://camunda.org/schema/1.0/dmn"
ZEEBE = "http://camunda.org/schema/zeebe/1.0"  # a Camunda 8 DMN's zeebe:versionTag
_MAX_XML = 64 * 1024 * 1024  # it was checked against the deploy limit when deployed
_KEEP = 128


class _Compiled:
    """decision_source id -> (decision engine, required engines, version tag), least recently used out."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[Any, list[Any], str | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, source: DecisionSource | str, session: Session) -> tuple[Any, list[Any], str | None]:
        source_id = source if isinstance(source, str) else source.id
        with self._lock:
            found = self._items.get(source_id)
            if found is not None:
                self._items.move_to_end(source_id)
                return found
        row = source if isinstance(source, DecisionSource) else session.get(DecisionSource, source_id)
        assert row is not None
        found = _compile(row)
        with self._lock:
            self._items[source_id] = found
            while len(self._items) > _KEEP:
                self._items.popitem(last=False)
        return found


def _compile(row: DecisionSource) -> tuple[Any, list[Any], str | None]:
    root, problem = parse_document(row.source_xml.encode("utf-8"), row.file_name, _MAX_XML)
    if root is None or problem is not None:
        raise DecisionUnavailable(f"decision {row.decision_id!r} as deployed in {row.file_name} no longer reads "
                                  f"({problem.reason if problem else 'not XML'})")
    decision = next((d for d in root.iterfind("{*}decision") if d.get("id") == row.decision_id), None)
    tag = (decision.get(f"{{{DMN_CAMUNDA}}}versionTag") or decision.get(f"{{{ZEEBE}}}versionTag")
           if decision is not None else None)
    engine, required = decision_graph.compile_decision(root, row.decision_id, row.file_name)
    return engine, required, tag


_COMPILED = _Compiled()


class DecisionRepository:
    """The :class:`~engine._bpmn.decision_binding.DecisionLookup` of one advance of one instance."""

    def __init__(self, session: Session, definition_id: str) -> None:
        self.session = session
        self.definition_id = definition_id

    def find(self, decision_id: str, binding: str, version: int | None, version_tag: str | None) -> ResolvedDecision:
        rows = list(self.session.execute(in_version_order(decision_id, DecisionSource.id,
                                                           DecisionSource.deployment_id)).all())
        if not rows:
            raise DecisionUnavailable(f"decision {decision_id!r} is not deployed (camunda:decisionRefBinding="
                                      f"{binding!r} looks it up when the task is reached)")
        if binding == "deployment":
            deployment_id = self.session.scalar(select(ProcessDefinition.deployment_id)
                                                .where(ProcessDefinition.id == self.definition_id))
            numbered = [(n, r) for n, r in enumerate(rows, start=1) if r.deployment_id == deployment_id]
            if not numbered:
                raise DecisionUnavailable(f"decision {decision_id!r} was not deployed with this diagram "
                                          "(camunda:decisionRefBinding=\"deployment\")")
            number, row = numbered[-1]
        elif binding == "version":
            if version is None or not 1 <= version <= len(rows):
                raise DecisionUnavailable(f"decision {decision_id!r} has no version {version} (deployed: 1 to "
                                          f"{len(rows)})")
            number, row = version, rows[version - 1]
        elif binding == "versionTag":
            tagged = [(n, r) for n, r in enumerate(rows, start=1)
                      if _COMPILED.get(r.id, self.session)[2] == version_tag]
            if not tagged:
                raise DecisionUnavailable(f"no version of decision {decision_id!r} has camunda:versionTag "
                                          f"{version_tag!r}")
            number, row = tagged[-1]
        else:
            number, row = len(rows), rows[-1]
        try:
            engine, required, _tag = _COMPILED.get(row.id, self.session)
        except DecisionUnavailable:
            raise
        except Exception as exc:  # read at deploy; should the library read it otherwise now, an incident, not a crash
            raise DecisionUnavailable(f"decision {decision_id!r} v{number} cannot be read: "
                                      f"{type(exc).__name__}: {exc}") from exc
        return ResolvedDecision(decision_id, number, row.deployment_id, engine, required)
