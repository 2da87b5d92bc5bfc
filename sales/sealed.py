"""Secrets the gateway keeps for operators (a back-end's token), encrypted at rest.

Sealed with `MAAS_SIGNING_KEY_SECRET`, as the signing keys are: AES-256-GCM under a
key derived from the secret with scrypt and a random salt, so a copy of the
database alone cannot call an operator's back-end. Without a secret the value is
stored in clear (the gateway warns at start-up, as for signing keys).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sales.tokens import SigningKeyLocked

PREFIX = "sealed:v1:"
_SALT, _NONCE = 16, 12


def _key(secret: bytes, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(secret)


def is_sealed(stored: str) -> bool:
    """Tell whether a stored value is sealed."""
    return stored.startswith(PREFIX)


def seal(value: str, secret: bytes | None) -> str:
    """Return `value` sealed with `secret` (or unchanged when there is no secret)."""
    if secret is None:
        return value
    salt, nonce = os.urandom(_SALT), os.urandom(_NONCE)
    sealed = AESGCM(_key(secret, salt)).encrypt(nonce, value.encode(), PREFIX.encode())
    return PREFIX + base64.urlsafe_b64encode(salt + nonce + sealed).decode()


def unseal(stored: str, secret: bytes | None) -> str:
    """Return the clear value of a stored one (`SigningKeyLocked`: the secret does not open it)."""
    if not is_sealed(stored):
        return stored
    if secret is None:
        raise SigningKeyLocked("the value is sealed and MAAS_SIGNING_KEY_SECRET is not set")
    raw = base64.urlsafe_b64decode(stored[len(PREFIX) :])
    salt, nonce, sealed = raw[:_SALT], raw[_SALT : _SALT + _NONCE], raw[_SALT + _NONCE :]
    try:
        return AESGCM(_key(secret, salt)).decrypt(nonce, sealed, PREFIX.encode()).decode()
    except InvalidTag as exc:
        raise SigningKeyLocked("MAAS_SIGNING_KEY_SECRET does not open the value") from exc
