"""Decision tables as deployed, and what each evaluation of them decided.

A deployment keeps each DMN file's XML (:func:`store_decision_sources`, called by ``deploy``) so
the UI can draw the table with dmn-js. Every evaluation is the ``completed`` history row of its
business rule task, whose details carry ``{"decision": {"table_id", "hit_policy", "rules",
"rows", "inputs", "definition_id"}}`` (``engine/_bpmn/decision_record.py``): the rules that
matched, by id, which the decision page highlights, and the definition version that ran it.

A decision's *versions* are the deployments that carried it, numbered 1, 2... in deployment
order. A business rule task finds its version when it runs (``_bpmn/decision_binding.py``: the
latest by default), and its row names the deployment of the version that decided
(``deployment_id``). Rows written before run-time binding name none: the tables deployed with
the diagram decided then, so their version is that of the definition named in the row
(``definition_id``), or for the oldest rows, of the instance's definition.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lxml import etree
from sqlalchemy import Select, Text, cast, func, or_, select
from sqlalchemy.orm import Session

from ._bpmn.checks import DMN_NAMESPACES
from .errors import NotFound
from .models import ActivityEvent, DecisionSource, ProcessDefinition, ProcessInstance

if TYPE_CHECKING:
    from .runtime import Engine

#: Evaluations a decision page lists, newest first.
EVALUATIONS_MAX = 50


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value else None


def _decision_files(files: list[tuple[str, bytes]]) -> list[tuple[str, bytes, etree._Element]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    found = []
    for file_name, data in files:
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            continue
        namespace = etree.QName(root).namespace
        if namespace and namespace.startswith(DMN_NAMESPACES):
            found.append((file_name, data, root))
    return found


def decision_files_digest(files: list[tuple[str, bytes]]) -> str:
    """A digest of the DMN files deployed together ("" without any): part of each definition's
    checksum, so a changed decision table with the same diagram is a new version, not "unchanged"."""
    decisions = sorted((name, data) for name, data, _ in _decision_files(files))
    if not decisions:
        return ""
    return hashlib.sha256(b"".join(hashlib.sha256(name.encode() + b"\0" + data).digest()
                                   for name, data in decisions)).hexdigest()


def store_decision_sources(session: Session, deployment_id: str, files: list[tuple[str, bytes]]) -> int:
    """Keep the DMN files of a deployment (already checked by the deploy); return how many."""
    stored = 0
    for file_name, data, root in _decision_files(files):
        text = data.decode("utf-8", errors="replace")
        for decision in root.iterfind("{*}decision"):  # a decision graph: each of its decisions
            if not decision.get("id"):
                continue
            table = decision.find("{*}decisionTable")
            session.add(DecisionSource(
                deployment_id=deployment_id, decision_id=decision.get("id"), table_id=_table_id(decision, table),
                name=decision.get("name"), file_name=file_name[:300], source_xml=text))
            stored += 1
    return stored


def latest_decision_files(session: Session) -> dict[str, tuple[str, str]]:
    """decision id -> (file name, DMN XML) of the newest deployment that carried it."""
    found: dict[str, tuple[str, str]] = {}
    for row in session.scalars(select(DecisionSource).order_by(DecisionSource.created_at, DecisionSource.id)):
        found[row.decision_id] = (row.file_name, row.source_xml)
    return found


def decisions_in(files: list[tuple[str, bytes]]) -> list[tuple[str, str]]:
    """(decision id, DMN text) of each decision in the DMN files of ``files``."""
    return [(decision.get("id"), data.decode("utf-8", errors="replace"))
            for _, data, root in _decision_files(files) for decision in root.iterfind("{*}decision")
            if decision.get("id")]


def _table_id(decision: etree._Element, table: etree._Element | None) -> str | None:
    """The table's id as the run knows it: a table without one (as Camunda Modeler writes them) is
    given ``<decision id>_decisionTable_0`` when deployed (``engine/_bpmn/decision_graph.split``)."""
    if table is None:
        return None
    return table.get("id") or f"{decision.get('id')}_decisionTable_0"


def list_decisions(engine: Engine) -> list[dict[str, Any]]:
    """Every decision id with its newest deployed file and how many deployments carried it."""
    with engine.db.reading() as session:
        rows = session.execute(select(DecisionSource.decision_id, func.count(), func.max(DecisionSource.created_at))
                               .group_by(DecisionSource.decision_id).order_by(DecisionSource.decision_id)).all()
        found = []
        for decision_id, versions, _newest in rows:
            latest = _latest(session, decision_id)
            found.append({"decision_id": decision_id, "name": latest.name, "file_name": latest.file_name,
                          "versions": versions, "deployed_at": _iso(latest.created_at)})
        return found


def in_version_order(decision_id: str, *columns: Any) -> Select[Any]:
    """A decision's deployed sources (``columns`` of them, else whole rows), oldest first: version N
    is the N-th deployment that carried it. The one numbering the pages, the API and a business
    rule task's binding (``decision_lookup.py``) share."""
    return (select(*(columns or (DecisionSource,))).where(DecisionSource.decision_id == decision_id)
            .order_by(DecisionSource.created_at, DecisionSource.id))


def _sources(session: Session, decision_id: str) -> list[DecisionSource]:
    rows = list(session.scalars(in_version_order(decision_id)))
    if not rows:
        raise NotFound(f"no decision {decision_id!r} was deployed (a DMN file deployed with its diagram)")
    return rows


def _latest(session: Session, decision_id: str) -> DecisionSource:
    return _sources(session, decision_id)[-1]


def get_decision(engine: Engine, decision_id: str, version: int | None = None) -> dict[str, Any]:
    """One version of the decision (the newest by default): its DMN XML, every version, and the
    latest evaluations of any version, each with the rules that matched and the version it used."""
    with engine.db.reading() as session:
        sources = _sources(session, decision_id)
        if version is not None and not 1 <= version <= len(sources):
            raise NotFound(f"decision {decision_id!r} has no version {version} (it has 1 to {len(sources)})")
        source = sources[(version or len(sources)) - 1]
        by_deployment = {s.deployment_id: n for n, s in enumerate(sources, start=1)}
        table_ids = {s.table_id for s in sources}
        details = cast(ActivityEvent.details, Text)
        rows = session.execute(
            select(ActivityEvent, ProcessDefinition.key, ProcessDefinition.version, ProcessDefinition.deployment_id)
            .join(ProcessInstance, ProcessInstance.id == ActivityEvent.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(ActivityEvent.event == "completed",
                   # the business rule task's class varies (a decision graph's is another); its row says
                   details.like('%"decision"%'),
                   # bound when reached, any diagram's task may have run it (its row names it, a
                   # superset matched here and exactly below); earlier rows ran their deployment's
                   or_(ProcessDefinition.deployment_id.in_(list(by_deployment)),
                       details.like(f"%{decision_id}%")))  # an XML id: no % or quotes; _ matches more
            .order_by(ActivityEvent.at.desc()).limit(EVALUATIONS_MAX * 4)).all()
        ran = {d for e, *_ in rows if (d := ((e.details or {}).get("decision") or {}).get("definition_id"))}
        deployment_of = {d: deployment for d, deployment in session.execute(
            select(ProcessDefinition.id, ProcessDefinition.deployment_id)
            .where(ProcessDefinition.id.in_(list(ran))))} if ran else {}
        evaluations = []
        for event, key, definition_version, instance_deployment in rows:
            decided = (event.details or {}).get("decision")
            if not decided or (decided.get("decision_id") or decision_id) != decision_id or (
                    None not in table_ids and decided.get("table_id") not in table_ids):
                continue  # another decision's task
            used = by_deployment.get(decided.get("deployment_id")
                                     or deployment_of.get(decided.get("definition_id"), instance_deployment))
            evaluations.append({"instance_id": event.instance_id, "seq": event.seq, "element_id": event.element_id,
                                "definition": {"key": key, "version": definition_version}, "at": _iso(event.at),
                                "decision_version": used,
                                "rules": decided.get("rules") or [], "rows": decided.get("rows") or [],
                                "inputs": decided.get("inputs") or {}, "hit_policy": decided.get("hit_policy")})
            if len(evaluations) >= EVALUATIONS_MAX:
                break
        return {"decision_id": source.decision_id, "name": source.name, "table_id": source.table_id,
                "file_name": source.file_name, "deployment_id": source.deployment_id,
                "deployed_at": _iso(source.created_at), "version": sources.index(source) + 1,
                "versions": [{"version": n, "deployment_id": s.deployment_id, "file_name": s.file_name,
                              "deployed_at": _iso(s.created_at)} for n, s in enumerate(sources, start=1)],
                "xml": source.source_xml, "evaluations": evaluations}
