"""JWT verification and development tokens (PROTOCOL.md §1, Authentication).

HS256 with a shared secret for development; RS256 / ES256 public keys for production.
``sub`` and ``exp`` are required; ``exp`` is enforced here at connect time and by callers on
a timer while connected.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
from pydantic import ValidationError

from syncmesh_schema.auth import TokenClaims


@contextmanager
def _short_dev_secret_ok() -> Iterator[None]:
    """The protocol's development secret is 20 bytes; PyJWT warns about short HMAC keys.
    Production refuses short secrets in settings instead (see ``ServiceSettings``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        yield


_ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]


class AuthError(Exception):
    """A token was refused; ``str(exc)`` says why and what to do."""


class TokenVerifier:
    """Verifies bearer tokens against the HS256 secret and/or configured public keys."""

    def __init__(
        self, secret: str | None, public_keys: Sequence[Path] = (), leeway_s: float = 0
    ) -> None:
        self._secret = secret or None
        self._public_keys = [p.read_bytes() for p in public_keys]
        self._leeway = leeway_s

    def verify(self, token: str) -> TokenClaims:
        """Return the token's claims or raise :class:`AuthError`."""
        if not token:
            raise AuthError("missing token: send a JWT (Authorization: Bearer <jwt> or token=)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token: not a JWT") from None
        alg = header.get("alg")
        keys: list[Any]
        if alg == "HS256" and self._secret:
            keys = [self._secret]
        elif alg in _ASYMMETRIC and self._public_keys:
            keys = list(self._public_keys)
        else:
            raise AuthError(f"token algorithm {alg!r} is not accepted by this server")
        payload: dict[str, Any] | None = None
        last: Exception | None = None
        for key in keys:
            try:
                with _short_dev_secret_ok():
                    payload = jwt.decode(
                        token,
                        key,
                        algorithms=[alg],
                        options={"require": ["sub", "exp"]},
                        leeway=self._leeway,
                    )
                break
            except jwt.ExpiredSignatureError:
                raise AuthError("token expired: get a new token") from None
            except jwt.MissingRequiredClaimError as exc:
                raise AuthError(f"token is missing the {exc.claim!r} claim") from None
            except jwt.PyJWTError as exc:
                last = exc
        if payload is None:
            raise AuthError(f"invalid token: {last}")
        try:
            return TokenClaims.model_validate(payload)
        except ValidationError as exc:
            raise AuthError(
                f"invalid token claims: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}"
            ) from None


def issue_token(
    secret: str,
    sub: str,
    ttl_s: float = 3600,
    *,
    channels: list[str] | None = None,
    write: list[str] | None = None,
    admin: bool = False,
    now: float | None = None,
) -> str:
    """Sign an HS256 token (development, tests, the ``syncmesh token`` command)."""
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": issued, "exp": issued + int(ttl_s)}
    if channels is not None:
        claims["channels"] = channels
    if write is not None:
        claims["write"] = write
    if admin:
        claims["admin"] = True
    with _short_dev_secret_ok():
        return jwt.encode(claims, secret, algorithm="HS256")
