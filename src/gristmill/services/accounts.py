"""Accounts, identities and API keys. Keys are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select, update

from gristmill.hub import Hub
from gristmill.ids import prefixed
from gristmill.services.errors import InvalidRequest, NotFound, Unauthenticated
from gristmill.store.metadata.models import Account, ApiKey, Identity, utcnow

KEY_PREFIX = "gm-"
IDENTITY_KINDS = ("user", "service_account")


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from an API key by every door's auth."""

    account_id: str
    identity_id: str
    identity_kind: str
    key_id: str


@dataclass(frozen=True)
class IssuedKey:
    api_key: str
    key_id: str
    account_id: str
    identity_id: str


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str
    prefix: str
    account_id: str
    account_name: str
    identity_id: str
    identity_kind: str
    created_at: datetime
    revoked_at: datetime | None


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def issue_key(
    hub: Hub,
    *,
    account_name: str = "default",
    key_name: str = "default",
    service_account: bool = False,
) -> IssuedKey:
    """Create the account and an identity if needed, then a new key for that identity."""
    kind = "service_account" if service_account else "user"
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with hub.db.session() as s:
        account = s.scalar(select(Account).where(Account.name == account_name))
        if account is None:
            account = Account(id=prefixed("acct_", 20), name=account_name)
            s.add(account)
            s.flush()
        identity = s.scalar(
            select(Identity).where(
                Identity.account_id == account.id, Identity.kind == kind, Identity.name == key_name
            )
        )
        if identity is None:
            identity = Identity(
                id=prefixed("idn_", 20), account_id=account.id, kind=kind, name=key_name
            )
            s.add(identity)
            s.flush()
        key = ApiKey(
            id=prefixed("key_", 20),
            account_id=account.id,
            identity_id=identity.id,
            name=key_name,
            prefix=secret[:10],
            key_hash=hash_key(secret),
        )
        s.add(key)
        return IssuedKey(
            api_key=secret, key_id=key.id, account_id=account.id, identity_id=identity.id
        )


def store_is_empty(hub: Hub) -> bool:
    with hub.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Account)) or 0) == 0


# Prebuilt: building the statement per request cost more than running it.
_KEY_BY_HASH = (
    select(ApiKey.id, ApiKey.account_id, ApiKey.identity_id, ApiKey.revoked_at, Identity.kind)
    .join(Identity, Identity.id == ApiKey.identity_id)
    .where(ApiKey.key_hash == bindparam("key_hash"))
)
# Run on a bare DBAPI cursor: a pooled SQLAlchemy Connection costs ~5x the query itself.
_KEY_IS_LIVE = "SELECT 1 FROM api_keys WHERE id = ? AND revoked_at IS NULL"


def authenticate(hub: Hub, api_key: str | None) -> Principal:
    """The caller of a request. A key seen before skips the lookup of who it belongs to
    (kept `auth_cache_seconds`), but whether it is revoked is asked of the store on every
    request, so a revocation from any process or machine holds from the next request on."""
    if not api_key:
        raise Unauthenticated("Missing API key: send it in this API's authentication header.")
    return authenticate_hash(hub, hash_key(api_key))


def authenticate_hash(hub: Hub, key_hash: str) -> Principal:
    """The caller whose key hashes to `key_hash` (a viewer session holds the hash, never
    the key), with the same revocation check as `authenticate`."""
    known: Principal | None = hub.principals.get(key_hash)
    if known is not None:
        if hub.db.fetch_value(_KEY_IS_LIVE, (known.key_id,)) is not None:
            return known
        hub.principals.drop_where(lambda p: p.key_id == known.key_id)
    with hub.db.reading() as conn:
        row = conn.execute(_KEY_BY_HASH, {"key_hash": key_hash}).first()
    if row is None:
        raise Unauthenticated("Incorrect API key provided.")
    if row.revoked_at is not None:
        raise Unauthenticated("This API key has been revoked.")
    principal = Principal(
        account_id=row.account_id,
        identity_id=row.identity_id,
        identity_kind=row.kind,
        key_id=row.id,
    )
    hub.principals.put(key_hash, principal)
    return principal


def list_keys(hub: Hub, account_name: str | None = None) -> list[KeyInfo]:
    with hub.db.session() as s:
        q = (
            select(ApiKey, Account.name, Identity.kind)
            .join(Account, Account.id == ApiKey.account_id)
            .join(Identity, Identity.id == ApiKey.identity_id)
            .order_by(ApiKey.created_at)
        )
        if account_name is not None:
            q = q.where(Account.name == account_name)
        return [
            KeyInfo(
                key_id=k.id,
                name=k.name,
                prefix=k.prefix,
                account_id=k.account_id,
                account_name=acct,
                identity_id=k.identity_id,
                identity_kind=kind,
                created_at=k.created_at,
                revoked_at=k.revoked_at,
            )
            for k, acct, kind in s.execute(q).all()
        ]


def revoke_key(hub: Hub, key_id: str) -> None:
    with hub.db.session() as s:
        result = s.execute(
            update(ApiKey)
            .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            exists = s.get(ApiKey, key_id)
            if exists is None:
                raise NotFound(f"No API key with id {key_id!r}.", param="key_id")
            raise InvalidRequest(f"API key {key_id!r} is already revoked.", param="key_id")
    hub.principals.drop_where(lambda p: p.key_id == key_id)
