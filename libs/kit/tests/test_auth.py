"""JWT verification: HS256 (development) and RS256/ES256 public keys (production)."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from syncmesh_kit.auth import AuthError, TokenVerifier, issue_token

SECRET = "dev-secret-change-me"


def test_hs256_round_trip_with_claims():
    token = issue_token(SECRET, "alice", 60, channels=["room:*"], write=["todos"], admin=True)
    claims = TokenVerifier(SECRET).verify(token)
    assert claims.sub == "alice"
    assert claims.channels == ["room:*"]
    assert claims.write == ["todos"]
    assert claims.admin
    assert claims.exp > time.time()


@pytest.mark.parametrize(
    ("token", "needle"),
    [
        ("", "missing token"),
        ("garbage", "malformed"),
        (issue_token(SECRET, "a", -10), "expired"),
        (issue_token("other-secret", "a", 60), "invalid token"),
        (jwt.encode({"exp": int(time.time()) + 60}, SECRET), "'sub'"),
        (jwt.encode({"sub": "a"}, SECRET), "'exp'"),
        (jwt.encode({"sub": "a", "exp": 1}, SECRET, algorithm="HS512"), "algorithm"),
    ],
)
def test_refusals_say_why(token, needle):
    with pytest.raises(AuthError, match=needle):
        TokenVerifier(SECRET).verify(token)


@pytest.mark.parametrize(
    ("alg", "private_key"),
    [
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_public_keys(tmp_path, alg, private_key):
    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "key.pem").write_bytes(pem)
    verifier = TokenVerifier(None, [tmp_path / "key.pem"])
    good = jwt.encode({"sub": "bob", "exp": int(time.time()) + 60}, private_key, algorithm=alg)
    assert verifier.verify(good).sub == "bob"
    # HS256 is refused when no secret is configured: no algorithm confusion.
    with pytest.raises(AuthError, match="not accepted"):
        verifier.verify(issue_token(SECRET, "bob", 60))
