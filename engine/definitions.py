"""Deploy: files in, definition versions out; all or nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from ._bpmn import events
from ._bpmn.reading import read_deployment
from .decisions import decision_files_digest, decisions_in, latest_decision_files, store_decision_sources
from .errors import DefinitionNotFound, DeploymentError
from .models import DecisionSource, Deployment, ProcessDefinition

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .runtime import Engine


@dataclass(frozen=True)
class DeployedDefinition:
    """What a deployment did for one process key."""

    key: str
    version: int
    id: str
    created: bool  # False: identical content was already deployed; no new version
    kind: str = "process"  # or "decision": a DMN file deployed alone (its decision id is the key)

    def describe(self) -> str:
        what = f"decision {self.key}" if self.kind == "decision" else self.key
        return f"{'deployed' if self.created else 'unchanged'} {what} v{self.version}"


def deploy(engine: Engine, files: list[tuple[str, bytes]], *, name: str | None = None,
           deployed_by: str | None = None) -> list[DeployedDefinition]:
    """Deploy BPMN (and DMN) files together; raise :class:`DeploymentError` with every problem."""
    if not files:
        raise DeploymentError([])
    with engine.db.reading() as session:
        deployed: dict[str, set[int]] = {}
        for key, version in session.execute(select(ProcessDefinition.key, ProcessDefinition.version)):
            deployed.setdefault(key, set()).add(version)
        earlier_decisions = latest_decision_files(session)
    sources, problems = read_deployment(files, engine.endpoints, engine.settings.max_xml_bytes, deployed)
    if problems:
        raise DeploymentError(problems)
    if not sources:  # DMN files alone (read_deployment refuses anything else without a process)
        return _deploy_decisions(engine, files, earlier_decisions, name, deployed_by)
    results: list[DeployedDefinition] = []
    digest = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for _, d in sorted(files))).hexdigest()
    decisions = decision_files_digest(files)
    with engine.db.transaction() as session:
        deployment: Deployment | None = None
        for source in sources:
            events.plain_messages([source.spec, *source.subprocess_specs.values(),
                                   *(s for unit in source.units.values() for s in (unit[0], *unit[1].values()))])
            spec_json = engine.codec.spec_to_json(source.spec, source.subprocess_specs, source.plan, source.units)
            checksum = hashlib.sha256(
                (source.key + "\0" + source.source_xml + "\0" + repr(sorted(source.bindings.items()))
                 + ("\0" + decisions if decisions else "")).encode()
            ).hexdigest()
            latest = _latest(session, source.key)
            if latest is not None and latest.checksum == checksum:
                results.append(DeployedDefinition(source.key, latest.version, latest.id, False))
                continue
            if deployment is None:
                deployment = Deployment(name=name or ", ".join(f for f, _ in files)[:200],
                                        deployed_by=deployed_by, checksum=digest)
                session.add(deployment)
                session.flush()
            definition = ProcessDefinition(
                key=source.key, version=(latest.version + 1) if latest else 1, name=source.name,
                deployment_id=deployment.id, file_name=source.file_name, checksum=checksum,
                source_xml=source.source_xml, spec_json=spec_json, bindings=source.bindings,
            )
            session.add(definition)
            session.flush()
            results.append(DeployedDefinition(definition.key, definition.version, definition.id, True))
        if deployment is not None:
            store_decision_sources(session, deployment.id, files)
    return results


def _deploy_decisions(engine: Engine, files: list[tuple[str, bytes]], earlier: dict[str, tuple[str, str]],
                      name: str | None, deployed_by: str | None) -> list[DeployedDefinition]:
    """Keep DMN files deployed alone, as Camunda 7 does: their decisions are listed and a later
    diagram's business rule task may name them. Identical decisions make no new version."""
    decisions = decisions_in(files)
    with engine.db.transaction() as session:
        counts = dict(session.execute(select(DecisionSource.decision_id, func.count())
                                      .group_by(DecisionSource.decision_id)).all())
        if decisions and all(earlier.get(d, ("", None))[1] == text for d, text in decisions):
            return [DeployedDefinition(d, counts.get(d, 1), d, False, "decision") for d, _ in decisions]
        digest = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for _, d in sorted(files))).hexdigest()
        deployment = Deployment(name=name or ", ".join(f for f, _ in files)[:200], deployed_by=deployed_by,
                                checksum=digest)
        session.add(deployment)
        session.flush()
        store_decision_sources(session, deployment.id, files)
        return [DeployedDefinition(d, counts.get(d, 0) + 1, d, True, "decision") for d, _ in decisions]


def _latest(session: Session, key: str) -> ProcessDefinition | None:
    return session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc()).limit(1)
    ).first()


def get_definition(session: Session, key: str, version: int | None = None) -> ProcessDefinition:
    if version is None:
        found = _latest(session, key)
    else:
        found = session.scalars(select(ProcessDefinition).where(
            ProcessDefinition.key == key, ProcessDefinition.version == version)).first()
    if found is None:
        raise DefinitionNotFound(f"no process definition {key!r}" + (f" version {version}" if version else ""))
    return found


def list_definitions(session: Session) -> list[dict[str, object]]:
    """Every key with its versions, newest first, and how many instances each version has."""
    from .models import ProcessInstance

    counts = dict(session.execute(
        select(ProcessInstance.definition_id, func.count()).group_by(ProcessInstance.definition_id)).all())
    rows = session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.key,
                                                              ProcessDefinition.version.desc()))
    by_key: dict[str, dict[str, object]] = {}
    for d in rows:
        entry = by_key.setdefault(d.key, {"key": d.key, "name": d.name, "latest_version": d.version,
                                          "versions": []})
        entry["versions"].append({  # type: ignore[union-attr]
            "id": d.id, "version": d.version, "name": d.name, "file": d.file_name,
            "deployed_at": d.created_at.isoformat(), "instances": counts.get(d.id, 0),
        })
    return list(by_key.values())
