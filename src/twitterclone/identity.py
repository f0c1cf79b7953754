"""Service identity: short-lived internal tokens whose audience is the target module.

Every service (the gateway, each module) has a key of its own: an Ed25519 private key that only
its processes hold (``<keys dir>/<service>.key``) and the matching public key that every process
may read (``<keys dir>/<service>.pub``). A caller signs a token per target module with its own
key and reuses it until shortly before it expires; the receiver takes the caller's name from
the token's ``iss``, verifies the signature with *that service's* public key, and accepts the
call only if the token is addressed to it. So a token proves which service made it: a
compromised analytics process can mint tokens as analytics, never as the gateway or users.

``twitterclone up`` makes every service's key pair once (``provision``); a process started
without one (``serve`` under a process manager, a test) makes its own. On a platform, an
operator makes them and hands each pod its own private key and every public key
(deploy/README.md). Public access tokens (``typ: at+jwt``) and service tokens
(``typ: svc+jwt``) are told apart by type, so neither works in the other's place.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from boundaries._kernel.errors import Unauthorized
from twitterclone.infra.files import private_dir
from twitterclone.manifest import MODULE_NAMES

SERVICE_TOKEN_TYP = "svc+jwt"  # noqa: S105 - a JWT type, not a secret
AUDIENCE_PREFIX = "twitterclone:"
#: The folder (under the data directory unless configured) holding the services' keys.
KEYS_DIR = "service-identity"
#: Every name a service token may carry as its issuer.
SERVICES = ("gateway", *MODULE_NAMES)
#: The gateway's key for signing restricted image URLs (gateway/media_urls.py), and the one it
#: replaced, still accepted during a rotation.
MEDIA_URL_KEY = "media-url.key"
MEDIA_URL_PREVIOUS_KEY = "media-url.previous.key"
#: How long a public key read from disk is trusted before it is read again (a rotated key).
PUBLIC_KEY_MAX_AGE_S = 30.0


class InvalidServiceToken(Unauthorized):
    code = "invalid-service-token"


def private_key_file(directory: Path, service: str) -> Path:
    return directory / f"{service}.key"


def public_key_file(directory: Path, service: str) -> Path:
    return directory / f"{service}.pub"


def _write_once(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` atomically unless it exists (a racing writer's copy wins, and is kept)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # fails if another process made it first: then use theirs
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Read a private key, creating it atomically (0600) when it does not exist yet."""
    if not path.exists():
        private_dir(path.parent)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        _write_once(path, pem, 0o600)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def load_own_key(directory: Path, service: str) -> Ed25519PrivateKey:
    """This service's private key (made, with its public half, when missing and the folder writable)."""
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; allowed: {', '.join(SERVICES)}")
    key = load_or_create_key(private_key_file(directory, service))
    public = public_key_file(directory, service)
    if not public.exists():
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_once(public, pem, 0o644)
    return key


def media_url_keys(directory: Path) -> list[bytes]:
    """The key signing restricted image URLs (``media-url.key``, 32 random bytes, made atomically
    when missing), then the previous one when a rotation keeps it (``media-url.previous.key``).

    Every gateway process of a deployment must read the same file: ``up`` and ``service-keys``
    make it with the service keys, a platform hands it to the gateway (deploy/README.md)."""
    current = directory / MEDIA_URL_KEY
    if not current.exists():
        private_dir(directory)
        _write_once(current, secrets.token_bytes(32), 0o600)
    keys = [current.read_bytes()]
    previous = directory / MEDIA_URL_PREVIOUS_KEY
    if previous.exists():
        keys.append(previous.read_bytes())
    for key in keys:
        if len(key) < 32:
            raise ValueError(f"a media URL key in {directory} is shorter than 32 bytes")
    return keys


def provision(directory: Path, services: Iterable[str] = SERVICES) -> list[Path]:
    """Make every service's key pair that is missing (before the processes race for them), and
    the gateway's media URL key."""
    written = []
    for service in services:
        load_own_key(directory, service)
        written += [private_key_file(directory, service), public_key_file(directory, service)]
    media_url_keys(directory)
    return [*written, directory / MEDIA_URL_KEY]


class PublicKeys:
    """The services' public keys, read from a folder on demand and kept a while."""

    def __init__(self, directory: Path, *, max_age_s: float = PUBLIC_KEY_MAX_AGE_S) -> None:
        self.directory = directory
        self.max_age_s = max_age_s
        self._keys: dict[str, tuple[float, Ed25519PublicKey]] = {}

    def get(self, service: str) -> Ed25519PublicKey | None:
        """``service``'s public key; None for a name that is no service or has no key."""
        if service not in SERVICES:  # never a path built from an unchecked name
            return None
        now = time.monotonic()
        cached = self._keys.get(service)
        if cached is not None and now - cached[0] < self.max_age_s:
            return cached[1]
        try:
            key = serialization.load_pem_public_key(public_key_file(self.directory, service).read_bytes())
        except (OSError, ValueError):
            return cached[1] if cached is not None else None
        if not isinstance(key, Ed25519PublicKey):
            return None
        self._keys[service] = (now, key)
        return key


class ServiceIdentity:
    """Mints tokens for calls this process makes, and checks tokens of calls it receives."""

    def __init__(
        self,
        key: Ed25519PrivateKey,
        *,
        caller: str,
        public_keys: PublicKeys | None = None,
        ttl_s: int = 60,
    ) -> None:
        self._private = key
        self._public_keys = public_keys
        self.caller = caller
        self.ttl_s = ttl_s
        self._minted: dict[str, tuple[str, float]] = {}
        self._verified: dict[tuple[str, str], tuple[float, str]] = {}

    def token_for(self, module: str) -> str:
        """A token addressed to ``module``, reused until a fifth of its life is left."""
        now = time.time()
        cached = self._minted.get(module)
        if cached is not None and cached[1] - now > self.ttl_s / 5:
            return cached[0]
        exp = now + self.ttl_s
        token = jwt.encode(
            {
                "iss": self.caller,
                "sub": self.caller,
                "aud": AUDIENCE_PREFIX + module,
                "iat": int(now),
                "exp": int(exp),
                "jti": secrets.token_hex(8),
            },
            self._private,
            algorithm="EdDSA",
            headers={"typ": SERVICE_TOKEN_TYP},
        )
        self._minted[module] = (token, exp)
        return token

    def _key_of(self, issuer: str) -> Ed25519PublicKey | None:
        if self._public_keys is not None:
            return self._public_keys.get(issuer)
        return self._private.public_key() if issuer == self.caller else None

    def verify(self, token: str, module: str) -> str:
        """The calling service's name if ``token`` is valid for ``module`` and signed with that
        service's own key; else InvalidServiceToken."""
        now = time.time()
        cached = self._verified.get((token, module))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            header = jwt.get_unverified_header(token)
            claimed: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidServiceToken("the service token is malformed") from exc
        if header.get("typ") != SERVICE_TOKEN_TYP:
            raise InvalidServiceToken("not a service token")
        issuer = claimed.get("iss")
        key = self._key_of(issuer) if isinstance(issuer, str) else None
        if key is None or not isinstance(issuer, str):
            raise InvalidServiceToken("the service token names no known service")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=AUDIENCE_PREFIX + module,
                issuer=issuer,
                options={"require": ["exp", "iat", "aud", "iss"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise InvalidServiceToken(f"the service token is not valid for {module}: {exc}") from exc
        if len(self._verified) > 10_000:
            self._verified.clear()
        self._verified[(token, module)] = (float(claims["exp"]), issuer)
        return issuer
