"""Ed25519 signing keys for access tokens, kept in the users store and published as JWKS.

A key is made on first use. Every key that is not retired is published, so tokens signed
with a key stay verifiable until that key is retired. The private key is stored as PEM in
the module's own database (protect that database like any secret store).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from datetime import UTC, datetime
from typing import Any

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from boundaries.users.dto import Jwk, Jwks
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


class SigningKeys:
    """The current signing key (cached) and the set of published public keys."""

    def __init__(self, store: ModuleStore) -> None:
        self._store = store
        self._current: tuple[str, Ed25519PrivateKey] | None = None
        self._lock = asyncio.Lock()

    async def _active(self) -> list[tuple[str, str]]:
        async with self._store.read() as conn:
            rows = await conn.execute(
                sa.select(signing_keys.c.kid, signing_keys.c.private_key_pem)
                .where(signing_keys.c.retired_at.is_(None))
                .order_by(signing_keys.c.created_at.desc(), signing_keys.c.kid)
            )
            return [(r.kid, r.private_key_pem) for r in rows]

    async def current(self) -> tuple[str, Ed25519PrivateKey]:
        """The newest non-retired key, made (and stored) when there is none."""
        if self._current is not None:
            return self._current
        async with self._lock:
            if self._current is None:
                active = await self._active()
                if not active:
                    key = Ed25519PrivateKey.generate()
                    pem = key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ).decode()
                    async with self._store.transaction() as tx:
                        await tx.conn.execute(
                            signing_keys.insert().values(
                                kid=secrets.token_hex(8), private_key_pem=pem, created_at=datetime.now(UTC)
                            )
                        )
                    # Re-read: if another process made one at the same time, both are published.
                    active = await self._active()
                kid, pem = active[0]
                self._current = (kid, _load(pem))
            return self._current

    async def sign(self, claims: dict[str, Any], headers: dict[str, Any]) -> str:
        """A compact JWS of ``claims`` with the current key (its kid in the header)."""
        kid, key = await self.current()
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={**headers, "kid": kid})

    async def jwks(self) -> Jwks:
        """Every non-retired public key."""
        await self.current()  # make the first key if there is none yet
        return Jwks(keys=[public_jwk(kid, _load(pem)) for kid, pem in await self._active()])
