"""Every Alembic revision upgrades and downgrades, one step at a time, on SQLite and PostgreSQL,
and at the head the database is exactly what ``engine/models.py`` declares.

The revisions are read from ``migrations/versions`` (never listed here): a new one is walked too.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

import migrations

# What the models cannot declare, so the comparison with the database must not count it:
# 0004's GIN index on the variables and 0012's search indexes (PostgreSQL only; see those
# revisions' docstrings).
DIALECT_ONLY_INDEXES = {"ix_instance_variables", "ix_instance_business_key_pattern", "ix_instance_business_key_trgm",
                        "ix_instance_variables_trgm"}


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[Any]:
    """What ``alembic check`` would report: the models' metadata against the database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from engine.models import Base

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            found = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    return [diff for diff in found
            if not (isinstance(diff, tuple) and diff[0] == "remove_index" and diff[1].name in DIALECT_ONLY_INDEXES)]


REVIEW = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="review" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:userTask id="approve"/><bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="approve"/>
    <bpmn:sequenceFlow id="f2" sourceRef="approve" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _populate(url: str) -> None:
    """A deployment, a waiting and a completed instance (history, user task), a user, a token."""
    from engine import EndpointMap, Engine, Settings

    engine = Engine(Settings(database_url=url), endpoints=EndpointMap())
    try:
        engine.deploy([("review.bpmn", REVIEW)])
        engine.start("review", {"amount": 1}, business_key="waiting")
        engine.complete_user_task(engine.start("review", business_key="done"), "approve", {"ok": True})
        engine.create_user("dana", "operator", "correct horse battery staple")
        engine.create_token("viewer", "ci")
    finally:
        engine.close()


def _walk_every_revision(url: str) -> None:
    from engine.schema import database_revision

    chain = migrations.revisions()
    assert chain[0] == "0001" and len(chain) == len(set(chain)) >= 8
    for revision in chain:  # up, one revision at a time
        migrations.upgrade(url, revision)
        assert database_revision(url) == revision
    assert _differences(url) == [], "the schema at head differs from engine/models.py"
    head_tables = _tables(url)
    _populate(url)  # the downgrades must cope with rows, not only with empty tables

    for expected in reversed([None, *chain[:-1]]):  # down, one at a time, to an empty database
        migrations.downgrade(url, "-1")
        assert database_revision(url) == expected
    assert _tables(url) <= {"alembic_version"}, "a downgrade to base left tables behind"

    migrations.upgrade(url, "head")  # and up again: the downgrades left nothing in the way
    assert database_revision(url) == chain[-1]
    assert _tables(url) == head_tables
    assert _differences(url) == []


def test_every_revision_upgrades_and_downgrades_on_sqlite(tmp_path):  # type: ignore[no-untyped-def]
    _walk_every_revision(f"sqlite:///{tmp_path / 'walk.sqlite'}")


def test_every_revision_upgrades_and_downgrades_on_postgresql(postgres_url):  # type: ignore[no-untyped-def]
    _walk_every_revision(postgres_url)


def test_the_comparison_notices_a_schema_that_differs_from_the_models(tmp_path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'drift.sqlite'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE job ADD COLUMN stray INTEGER"))
    engine.dispose()
    assert any(diff[0] == "remove_column" and diff[3].name == "stray" for diff in _differences(url))


@pytest.mark.parametrize("command", [["start", "order_fulfillment"], ["instances"], ["serve"], ["worker"]])
def test_baton_refuses_an_outdated_schema_and_names_the_command(tmp_path, command):  # type: ignore[no-untyped-def]
    from tests.conftest import baton_cli

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    chain = migrations.revisions()
    migrations.upgrade(url, chain[-2])
    done = baton_cli(*command, env={"BATON_DATABASE_URL": url, "BATON_HOME": str(tmp_path / "home")})
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.strip() == (f"the database schema is at {chain[-2]}, Baton needs {chain[-1]}: "
                                   "run `baton db upgrade`")


def test_baton_refuses_an_empty_database_then_works_after_db_upgrade(tmp_path):  # type: ignore[no-untyped-def]
    from tests.conftest import baton_cli

    env = {"BATON_HOME": str(tmp_path / "home")}
    head = migrations.revisions()[-1]
    refused = baton_cli("instances", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"the database has no Baton schema yet, Baton needs {head}: run `baton db upgrade`"

    assert baton_cli("db", "upgrade", env=env).returncode == 0
    listed = baton_cli("instances", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip().startswith("{")


def test_baton_refuses_a_schema_newer_than_it_knows(tmp_path):  # type: ignore[no-untyped-def]
    from tests.conftest import baton_cli

    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    migrations.upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    done = baton_cli("instances", env={"BATON_DATABASE_URL": url})
    assert done.returncode == 1
    assert "at 9999, which this Baton does not know" in done.stderr
