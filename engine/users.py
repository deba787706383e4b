"""Who may see and do what: users (UI logins), API tokens, and the three roles.

Roles are ordered; each one may do everything the ones before it may::

    viewer     read everything (definitions, instances, history, incidents, tasks)
    operator   + start, cancel, suspend/resume, retry incidents, complete tasks, messages, signals
    admin      + deploy, manage users and tokens

Nothing secret is stored in clear:

- a password is kept as ``scrypt$N$r$p$salt$hash`` (``hashlib.scrypt``, N=2**15, r=8, p=1: about
  75 ms and 32 MiB per check here). The parameters travel with the hash, so raising them later
  re-hashes a user's password at their next login;
- an API token is 32 random bytes (``baton_...``), shown once; only its SHA-256 is kept. A slow
  hash is not needed there: the secret has 256 bits of entropy, nobody can guess it from the hash.

Bound to :class:`~engine.runtime.Engine` like ``queries``: ``engine.create_user(...)``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from .errors import InvalidRequest, NotFound
from .models import ApiToken, User, utcnow

if TYPE_CHECKING:
    from .runtime import Engine

ROLES = ("viewer", "operator", "admin")
TOKEN_PREFIX = "baton_"
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,120}$")
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}
# Checked against when the user does not exist, so an unknown name costs as long as a wrong password.
_DUMMY_HASH: str | None = None


def role_allows(have: str | None, need: str) -> bool:
    """True when role ``have`` may do what needs ``need`` (admin > operator > viewer)."""
    return have in ROLES and ROLES.index(have) >= ROLES.index(need)  # type: ignore[arg-type]


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRequest(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                                maxmem=256 * 1024 * 1024, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


def _outdated(stored: str) -> bool:
    return not stored.startswith(f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}$")


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def session_stamp(password_hash: str) -> str:
    """A short fingerprint of the password hash, kept in the session cookie: a new password (or a
    deleted user) ends every session made with the old one, although sessions are signed cookies."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode())


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _user(u: User) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "role": u.role, "created_at": _iso(u.created_at)}


def _token(t: ApiToken) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "role": t.role, "prefix": t.prefix, "created_by": t.created_by,
            "created_at": _iso(t.created_at), "revoked_at": _iso(t.revoked_at)}


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise InvalidRequest(f"a password has at least {MIN_PASSWORD} characters")


# -- users --------------------------------------------------------------------------------------

def create_user(engine: Engine, name: str, role: str, password: str) -> dict[str, Any]:
    """A new user; refused when the name is taken or the password is shorter than ``MIN_PASSWORD``."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRequest("a user name is 1 to 120 letters, digits or . _ @ -")
    check_role(role)
    _check_password(password)
    hashed = hash_password(password)
    with engine.db.transaction() as session:
        if session.scalar(select(User.id).where(User.name == name)):
            raise InvalidRequest(f"there is already a user {name!r}")
        user = User(name=name, role=role, password_hash=hashed)
        session.add(user)
        session.flush()
        return _user(user)


def list_users(engine: Engine) -> list[dict[str, Any]]:
    with engine.db.reading() as session:
        return [_user(u) for u in session.scalars(select(User).order_by(User.name))]


def update_user(engine: Engine, name: str, *, role: str | None = None, password: str | None = None) -> dict[str, Any]:
    """Change a user's role or password. A new password ends the user's sessions."""
    if role is not None:
        check_role(role)
    hashed = None
    if password is not None:
        _check_password(password)
        hashed = hash_password(password)
    with engine.db.transaction() as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no user {name!r}")
        if role is not None and role != user.role:
            _keep_an_admin(session, user)
            user.role = role
        if hashed is not None:
            user.password_hash = hashed
        user.updated_at = utcnow()
        return _user(user)


def delete_user(engine: Engine, name: str) -> None:
    with engine.db.transaction() as session:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFound(f"no user {name!r}")
        _keep_an_admin(session, user)
        session.delete(user)


def _keep_an_admin(session: Any, user: User) -> None:
    """Refuse to remove the last admin: nobody could manage users from the UI or the API after."""
    if user.role == "admin" and not session.scalar(
            select(User.id).where(User.role == "admin", User.id != user.id).limit(1)):
        raise InvalidRequest(f"{user.name} is the last admin; make another admin first")


def authenticate(engine: Engine, name: str, password: str) -> dict[str, Any] | None:
    """The user (with its session ``stamp``) when the password is right, else None.

    An unknown name takes as long as a wrong password, so timing does not reveal who exists."""
    global _DUMMY_HASH
    with engine.db.reading() as session:
        user = session.scalar(select(User).where(User.name == name)) if isinstance(name, str) else None
        found = (user.id, user.password_hash) if user else None
    if found is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY_HASH)
        return None
    user_id, stored = found
    if not verify_password(password, stored):
        return None
    if _outdated(stored):
        with engine.db.transaction() as session:
            row = session.get(User, user_id)
            if row is not None and row.password_hash == stored:
                row.password_hash = stored = hash_password(password)
    return session_user(engine, user_id, session_stamp(stored))


def session_user(engine: Engine, user_id: str, stamp: str) -> dict[str, Any] | None:
    """The user a session cookie names, if it still exists with the same password; the role is read
    now, so a role change applies at the next request."""
    with engine.db.reading() as session:
        user = session.get(User, user_id)
        if user is None or not hmac.compare_digest(session_stamp(user.password_hash), stamp):
            return None
        return {**_user(user), "stamp": stamp}


def ensure_admin(engine: Engine, password: str | None = None, name: str = "admin") -> str | None:
    """Create the first admin when there is none (``make run``). Returns the password when it was
    generated here (to print once); None when an admin existed or ``password`` was given."""
    with engine.db.reading() as session:
        if session.scalar(select(User.id).where(User.role == "admin").limit(1)):
            return None
    generated = None if password else secrets.token_urlsafe(12)
    create_user(engine, name, "admin", password or generated)  # type: ignore[arg-type]
    return generated


# -- API tokens ---------------------------------------------------------------------------------

def create_token(engine: Engine, role: str, name: str | None = None,
                 created_by: str | None = None) -> tuple[dict[str, Any], str]:
    """A new token: its record and the secret, which is not kept and cannot be shown again."""
    check_role(role)
    if name is not None and (not isinstance(name, str) or len(name) > 120):
        raise InvalidRequest("a token name is at most 120 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.db.transaction() as session:
        token = ApiToken(name=name, role=role, token_hash=token_hash(secret), prefix=secret[:12],
                         created_by=created_by)
        session.add(token)
        session.flush()
        return _token(token), secret


def list_tokens(engine: Engine, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    query = select(ApiToken).order_by(ApiToken.created_at)
    if not include_revoked:
        query = query.where(ApiToken.revoked_at.is_(None))
    with engine.db.reading() as session:
        return [_token(t) for t in session.scalars(query)]


def revoke_token(engine: Engine, token_id: str) -> dict[str, Any]:
    """Revoke a token (kept, marked revoked: who had what stays readable). Revoking twice is fine."""
    with engine.db.transaction() as session:
        token = session.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no API token {token_id!r}")
        if token.revoked_at is None:
            token.revoked_at = utcnow()
        return _token(token)


def token_identity(engine: Engine, secret: str) -> dict[str, Any] | None:
    """The live token whose secret this is, or None (unknown, or revoked)."""
    if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    with engine.db.reading() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
        if token is None or token.revoked_at is not None:
            return None
        return _token(token)
