"""Ed25519 signing keys for access tokens, kept in the users store and published as JWKS.

A key is made on first use. Its lifecycle: ``created_at`` (current: it signs), ``rotated_at``
(a newer key signs; it still verifies) and ``retired_at`` (it left the JWKS; tokens it signed
fail). Every key that is not retired is published, so tokens signed with a key stay verifiable
until that key is retired. The private key is stored as PEM in the module's own database
(protect that database like any secret store). Each process re-reads which key is current every
few seconds, so a rotation made by another process is followed without restart.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from boundaries.users.dto import Jwk, Jwks, SigningKey
from boundaries.users.errors import SigningKeyInUse, SigningKeyNotFound
from modules.users.tables import signing_keys
from twitterclone.infra.store import ModuleStore

ALGORITHM = "EdDSA"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _load(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("a signing key in the users store is not an Ed25519 key")
    return key


def public_jwk(kid: str, key: Ed25519PrivateKey) -> Jwk:
    """The public half of a signing key as a JWK (OKP, Ed25519)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Jwk(kty="OKP", kid=kid, alg=ALGORITHM, use="sig", crv="Ed25519", x=_b64url(raw))


def _new_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )


class SigningKeys:
    """The current signing key (cached briefly) and the set of published public keys."""

    def __init__(self, store: ModuleStore, *, current_cache_s: float = 5.0) -> None:
        self._store = store
        self._current: tuple[str, Ed25519PrivateKey] | None = None
        self._current_at = 0.0
        self._cache_s = current_cache_s
        self._lock = asyncio.Lock()

    async def _active(self) -> list[tuple[str, str]]:
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(signing_keys.c.kid, signing_keys.c.private_key_pem)
                .where(signing_keys.c.retired_at.is_(None))
                .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
            )
            return [(r.kid, r.private_key_pem) for r in rows]

    async def _signing(self) -> list[tuple[str, str]]:
        """Keys that may sign (neither rotated nor retired), newest first."""
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(signing_keys.c.kid, signing_keys.c.private_key_pem)
                .where(signing_keys.c.retired_at.is_(None), signing_keys.c.rotated_at.is_(None))
                .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid.desc())
            )
            return [(r.kid, r.private_key_pem) for r in rows]

    def _fresh(self) -> bool:
        return self._current is not None and time.monotonic() - self._current_at < self._cache_s

    async def current(self) -> tuple[str, Ed25519PrivateKey]:
        """The newest key that may sign, made (and stored) when there is none."""
        if self._fresh():
            assert self._current is not None
            return self._current
        async with self._lock:
            if not self._fresh():
                usable = await self._signing()
                if not usable:
                    async with self._store.transaction() as tx:
                        await tx.conn.execute(
                            signing_keys.insert().values(
                                kid=secrets.token_hex(8),
                                private_key_pem=_new_pem(),
                                created_at=datetime.now(UTC),
                            )
                        )
                    # Re-read: if another process made one at the same time, both are published.
                    usable = await self._signing()
                kid, pem = usable[0]
                if self._current is None or self._current[0] != kid:
                    self._current = (kid, _load(pem))
                self._current_at = time.monotonic()
            assert self._current is not None
            return self._current

    async def sign(self, claims: dict[str, Any], headers: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` with the current key (its kid in the header)."""
        kid, key = await self.current()
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={**headers, "kid": kid})

    async def jwks(self) -> Jwks:
        """Every non-retired public key."""
        await self.current()  # make the first key if there is none yet
        return Jwks(keys=[public_jwk(kid, _load(pem)) for kid, pem in await self._active()])

    async def decode(self, token: str, *, issuer: str, audience: str) -> dict[str, Any] | None:
        """The claims of an access token this module signed with a non-retired key, else None."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            return None
        pem = dict(await self._active()).get(kid) if isinstance(kid, str) else None
        if pem is None:
            return None
        try:
            claims: dict[str, Any] = jwt.decode(
                token, _load(pem).public_key(), algorithms=[ALGORITHM], issuer=issuer, audience=audience
            )
        except jwt.PyJWTError:
            return None
        return claims

    async def lifecycle(self) -> list[SigningKey]:
        """Every key with its lifecycle, newest first."""
        await self.current()
        current_kid = (await self._signing())[0][0]
        async with self._store.read() as conn:
            rows = (
                await conn.execute(
                    sa.select(signing_keys).order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
                )
            ).all()
        return [
            SigningKey(
                kid=r.kid,
                created_at=r.created_at or datetime.now(UTC),
                current=r.kid == current_kid,
                rotated_at=r.rotated_at,
                retired_at=r.retired_at,
            )
            for r in rows
        ]

    async def rotate(self) -> str:
        """Make a new current key; every key that signed until now only verifies from here on."""
        kid = secrets.token_hex(8)
        now = datetime.now(UTC)
        async with self._lock:
            async with self._store.transaction() as tx:
                await tx.conn.execute(
                    sa.update(signing_keys)
                    .where(signing_keys.c.rotated_at.is_(None), signing_keys.c.retired_at.is_(None))
                    .values(rotated_at=now)
                )
                await tx.conn.execute(
                    signing_keys.insert().values(kid=kid, private_key_pem=_new_pem(), created_at=now)
                )
            self._current = None
        return kid

    async def retire(self, kid: str) -> None:
        """Take a rotated key out of the JWKS; tokens it signed stop verifying. Idempotent."""
        async with self._lock:
            async with self._store.transaction() as tx:
                row = (
                    await tx.conn.execute(sa.select(signing_keys).where(signing_keys.c.kid == kid))
                ).first()
                if row is None:
                    raise SigningKeyNotFound(f"no signing key {kid!r}", field="kid")
                if row.retired_at is not None:
                    return
                if row.rotated_at is None:
                    raise SigningKeyInUse("this key still signs tokens; rotate first, then retire it")
                await tx.conn.execute(
                    sa.update(signing_keys)
                    .where(signing_keys.c.kid == kid)
                    .values(retired_at=datetime.now(UTC))
                )
            self._current = None
