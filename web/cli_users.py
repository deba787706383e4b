"""``baton user ...`` and ``baton token ...``: who may use Baton, managed on the machine itself.

These talk to the database directly (whoever can run them already holds ``BATON_DATABASE_URL``),
so they need no token: this is how the first admin and the first API token come to be. A token's
secret is printed once, on stdout alone (``TOKEN=$(baton token create --role operator)``); only
its SHA-256 is kept.
"""

from __future__ import annotations

import json
import sys

import click

from engine import ROLES, Engine, Settings


def _engine() -> Engine:
    return Engine(Settings.from_env())  # no notifier: nothing here makes jobs


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@click.group()
def user() -> None:
    """UI users: who logs in, with which role."""


@user.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (first line).")
def user_create(name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME (prompts for the password unless --password-stdin)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    created = _engine().create_user(name, role, password)
    click.echo(f"created user {created['name']} ({created['role']})")


@user.command("list")
@click.option("--json", "as_json", is_flag=True)
def user_list(as_json: bool) -> None:
    """Every user and their role."""
    users = _engine().list_users()
    if as_json:
        click.echo(json.dumps(users, indent=2))
        return
    for found in users:
        click.echo(f"{found['name']:<24} {found['role']:<9} since {found['created_at'][:19]}")


@user.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def user_set_role(name: str, role: str) -> None:
    """Give user NAME another role (applies at their next request)."""
    _engine().update_user(name, role=role)
    click.echo(f"{name} is now {role}")


@user.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True)
def user_password(name: str, password_stdin: bool) -> None:
    """Set user NAME's password; their open sessions end."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    _engine().update_user(name, password=password)
    click.echo(f"password of {name} changed")


@user.command("delete")
@click.argument("name")
def user_delete(name: str) -> None:
    """Delete user NAME."""
    _engine().delete_user(name)
    click.echo(f"deleted user {name}")


@click.group()
def token() -> None:
    """API tokens: Authorization: Bearer <token>. (Refusals end with the message and exit 1: cli.py.)"""


@token.command("create")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--name", help="What the token is for (shown in lists and as the deployer).")
def token_create(role: str, name: str | None) -> None:
    """Create a token; print its secret once (stdout) and its id (stderr)."""
    record, secret = _engine().create_token(role, name, created_by="cli")
    click.echo(f"token {record['id']} ({role}{', ' + name if name else ''}): shown once, keep it now", err=True)
    click.echo(secret)


@token.command("list")
@click.option("--all", "include_revoked", is_flag=True, help="Revoked tokens too.")
@click.option("--json", "as_json", is_flag=True)
def token_list(include_revoked: bool, as_json: bool) -> None:
    """Tokens: id, role, name, the first characters of the secret; never the secret."""
    tokens = _engine().list_tokens(include_revoked=include_revoked)
    if as_json:
        click.echo(json.dumps(tokens, indent=2))
        return
    for t in tokens:
        state = f" revoked {t['revoked_at'][:19]}" if t["revoked_at"] else ""
        click.echo(f"{t['id']}  {t['role']:<9} {t['prefix']}…  {t['name'] or ''}{state}")


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke token TOKEN_ID: the next request carrying it is refused."""
    _engine().revoke_token(token_id)
    click.echo(f"revoked {token_id}")
