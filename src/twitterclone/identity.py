"""Service identity: short-lived internal tokens whose audience is the target module.

Every process of a deployment holds the same Ed25519 key (a file in the data directory, made
once by whichever process needs it first, or by ``twitterclone up``). A caller mints a token
per target module and reuses it until shortly before it expires; a service accepts a call
only with a valid token addressed to it. Public access tokens (``typ: at+jwt``) and service
tokens (``typ: svc+jwt``) are told apart by type, so neither works in the other's place.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from boundaries._kernel.errors import Unauthorized
from twitterclone.infra.files import private_dir

SERVICE_TOKEN_TYP = "svc+jwt"  # noqa: S105 - a JWT type, not a secret
AUDIENCE_PREFIX = "twitterclone:"
KEY_FILE = "service-identity.pem"


class InvalidServiceToken(Unauthorized):
    code = "invalid-service-token"


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """Read the deployment's service key, creating it atomically when it does not exist yet."""
    private_dir(path.parent)
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process made it first: then use theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


class ServiceIdentity:
    """Mints tokens for calls this process makes, and checks tokens of calls it receives."""

    def __init__(self, key: Ed25519PrivateKey, *, caller: str, ttl_s: int = 60) -> None:
        self._private = key
        self._public: Ed25519PublicKey = key.public_key()
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

    def verify(self, token: str, module: str) -> str:
        """The calling service's name if ``token`` is valid for ``module``; else InvalidServiceToken."""
        now = time.time()
        cached = self._verified.get((token, module))
        if cached is not None and cached[0] > now:
            return cached[1]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidServiceToken("the service token is malformed") from exc
        if header.get("typ") != SERVICE_TOKEN_TYP:
            raise InvalidServiceToken("not a service token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public,
                algorithms=["EdDSA"],
                audience=AUDIENCE_PREFIX + module,
                options={"require": ["exp", "iat", "aud", "iss"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise InvalidServiceToken(f"the service token is not valid for {module}: {exc}") from exc
        if len(self._verified) > 10_000:
            self._verified.clear()
        issuer = str(claims["iss"])
        self._verified[(token, module)] = (float(claims["exp"]), issuer)
        return issuer
