"""``/api/v1``: users, API tokens and history retention (admin only). The CLI (``baton user``,
``baton token``, ``baton history prune``) does the same on the machine itself; the first admin
comes from ``make run`` or ``baton user create``."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from .api import api, engine, identity
from .auth import requires
from .openapi import body, query


@api.get("/users")
@requires("admin")
def list_users() -> Response:
    return jsonify({"items": engine().list_users()})


@api.post("/users")
@requires("admin")
def create_user() -> Any:
    data = body()
    return jsonify(engine().create_user(data["name"], data["role"], data["password"])), 201


@api.patch("/users/<name>")
@requires("admin")
def update_user(name: str) -> Response:
    data = body()
    return jsonify(engine().update_user(name, role=data.get("role"), password=data.get("password")))


@api.delete("/users/<name>")
@requires("admin")
def delete_user(name: str) -> Any:
    engine().delete_user(name)
    return "", 204


@api.get("/tokens")
@requires("admin")
def list_tokens() -> Response:
    return jsonify({"items": engine().list_tokens(include_revoked=query().get("include_revoked", False))})


@api.post("/tokens")
@requires("admin")
def create_token() -> Any:
    data = body()
    record, secret = engine().create_token(data["role"], data.get("name"), created_by=identity().label)
    return jsonify({**record, "token": secret}), 201


@api.delete("/tokens/<token_id>")
@requires("admin")
def revoke_token(token_id: str) -> Response:
    return jsonify(engine().revoke_token(token_id))


@api.post("/history/prune")
@requires("admin")
def prune_history() -> Response:
    data = body()
    return jsonify(engine().prune_history(data["older_than"], dry_run=data.get("dry_run", False),
                                          batch_size=data.get("batch_size", 500)))
