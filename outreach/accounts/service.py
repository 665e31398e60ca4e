"""Account operations: they flush, the caller commits."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import lru_cache

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from outreach.accounts import permissions
from outreach.db import write_transaction
from outreach.lib.addresses import BadAddress, normalise_address
from outreach.lib.clock import utcnow
from outreach.models import ApiToken, AuditLog, Client, User
from outreach.models.accounts import ROLES

MIN_PASSWORD_LENGTH = 10
#: werkzeug's default (scrypt); the test suite lowers it to keep hundreds of test users cheap
PASSWORD_HASH_METHOD = "scrypt"


class AccountError(ValueError):
    """A one-line reason an account operation was refused."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalise_email(address: str) -> str:
    try:
        return normalise_address(address)
    except BadAddress as exc:
        raise AccountError(str(exc), field="email") from None


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")


def has_users(session: Session) -> bool:
    return session.scalar(select(User.id).limit(1)) is not None


def create_user(session: Session, email: str, password: str, *, name: str = "", role: str = "member",
                client_id: int | None = None, actor: User | None = None) -> User:
    email = normalise_email(email)
    check_password(password)
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (choose {', '.join(ROLES)})", field="role")
    if role == "client_viewer":
        if client_id is None or session.get(Client, client_id) is None:
            raise AccountError("a client-viewer must be bound to an existing client", field="client_id")
    else:
        client_id = None
    if session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise AccountError(f"a user with the address {email} exists already", field="email")
    user = User(email=email, name=name.strip(), role=role, client_id=client_id,
                password_hash=_hash(password))
    session.add(user)
    session.flush()
    audit(session, actor, "user.create", "user", user.id, {"email": email, "role": role})
    return user


def create_first_admin(session: Session, email: str, password: str, name: str = "") -> User:
    """The setup page's one job; refused once any user exists."""
    if has_users(session):
        raise AccountError("setup is finished: an account exists already")
    return create_user(session, email, password, name=name, role="admin")


def update_user(session: Session, user: User, *, actor: User, role: str, is_active: bool,
                client_id: int | None, name: str) -> None:
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}", field="role")
    if user.id == actor.id and (role != "admin" or not is_active):
        raise AccountError("you cannot remove your own admin role or deactivate yourself", field="role")
    if role == "client_viewer" and (client_id is None or session.get(Client, client_id) is None):
        raise AccountError("a client-viewer must be bound to an existing client", field="client_id")
    user.role, user.is_active, user.name = role, is_active, name.strip()
    user.client_id = client_id if role == "client_viewer" else None
    session.flush()
    audit(session, actor, "user.update", "user", user.id,
          {"role": role, "is_active": is_active, "client_id": user.client_id})


def authenticate(session: Session, email: str, password: str, *, max_failures: int = 5,
                 lockout_minutes: int = 15) -> User:
    """The user for these credentials; counts failures and locks the account for a while."""
    generic = AccountError("wrong email address or password")
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    now = utcnow()
    if user is None:
        check_password_hash(_dummy_hash(), password)  # same cost as a real check: no user enumeration
        raise generic
    if user.locked_until is not None and user.locked_until > now:
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        raise AccountError(f"too many failed attempts: try again in {minutes} min")
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= max_failures:
            user.locked_until = now + timedelta(minutes=lockout_minutes)
            user.failed_logins = 0
        session.flush()
        raise generic
    if not user.is_active:
        raise AccountError("this account is deactivated")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.flush()
    return user


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_HASH_METHOD)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hash("not-a-password-of-anyone")


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not check_password_hash(user.password_hash, current):
        raise AccountError("the current password is wrong", field="current_password")
    check_password(new)
    user.password_hash = _hash(new)
    session.flush()
    audit(session, user, "user.password", "user", user.id, {})


def create_api_token(session: Session, user: User, name: str) -> tuple[ApiToken, str]:
    """A new token and its secret; the secret is shown once and only its hash is kept."""
    name = name.strip()
    if not name:
        raise AccountError("give the token a name, e.g. the script that will use it", field="name")
    secret = "otk_" + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, name=name[:100], token_hash=_token_hash(secret), prefix=secret[:10])
    session.add(token)
    session.flush()
    audit(session, user, "token.create", "api_token", token.id, {"name": token.name})
    return token, secret


def revoke_api_token(session: Session, user: User, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != user.id and not permissions.is_admin(user)):
        raise AccountError("no such token")
    token.revoked_at = utcnow()
    session.flush()
    audit(session, user, "token.revoke", "api_token", token.id, {})


def user_for_token(session: Session, secret: str) -> User | None:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(secret)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        # in a transaction of its own that takes the write lock first: the request may be a GET that read
        write_transaction(session)
        session.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
        session.commit()
        set_committed_value(token, "last_used_at", now)
    return token.user


def _token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def audit(session: Session, actor: User | None, action: str, object_type: str, object_id: int | None,
          details: dict[str, object]) -> None:
    session.add(AuditLog(user_id=actor.id if actor else None, action=action, object_type=object_type,
                         object_id=object_id, details=details))
