"""One-time join tokens: how a new node gets its certificate without trust on first use.

The master makes a token for one node name. The token carries where the
master is, the SHA-256 fingerprint of the cluster CA and a 256-bit secret;
the master keeps only the secret's hash, the name and an expiry, one file
per token below ``join-tokens/``. The new node pins the CA by its
fingerprint before it sends anything, then sends the secret with a
certificate request for its name; the master signs it only if the hash
matches a stored token for that very name that has not expired, and
deletes the token in the same step (``unlink`` succeeds once), so a token
works once. See ``docs/security.md`` for the threat model.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corral.atomicfile import write_atomically
from corral.crypto.ca import CertificateError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

PREFIX = "corral-join-v1:"
#: How long a token stays valid unless the operator says otherwise.
DEFAULT_VALIDITY = 3600


class TokenError(CertificateError):
    """A join token that is malformed, unknown, used, expired or for another node."""


@dataclass(frozen=True)
class JoinToken:
    master_name: str
    master_address: str
    port: int
    ca_fingerprint: str
    node_name: str
    secret: str

    def encode(self) -> str:
        body = json.dumps(
            {
                "master": self.master_name,
                "address": self.master_address,
                "port": self.port,
                "ca": self.ca_fingerprint,
                "node": self.node_name,
                "secret": self.secret,
            },
            separators=(",", ":"),
        ).encode()
        return PREFIX + base64.urlsafe_b64encode(body).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> JoinToken:
        text = text.strip()
        if not text.startswith(PREFIX):
            raise TokenError(f"not a corral join token (it must start with {PREFIX!r})")
        data = text[len(PREFIX) :]
        try:
            raw = json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
            token = cls(
                master_name=str(raw["master"]),
                master_address=str(raw["address"]),
                port=int(raw["port"]),
                ca_fingerprint=str(raw["ca"]),
                node_name=str(raw["node"]),
                secret=str(raw["secret"]),
            )
        except (ValueError, KeyError, TypeError):
            raise TokenError("the join token is damaged: copy it again from the master") from None
        return token


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenStore:
    """The master's record of tokens it gave out and that were not used yet."""

    def __init__(self, directory: Path, now: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._now = now

    def _time(self) -> float:
        return self._now()

    def create(
        self,
        node_name: str,
        master_name: str,
        master_address: str,
        port: int,
        ca_fingerprint: str,
        validity: int = DEFAULT_VALIDITY,
    ) -> JoinToken:
        """A new token for ``node_name``, recorded (blocking)."""
        token = JoinToken(
            master_name, master_address, port, ca_fingerprint, node_name, secrets.token_urlsafe(32)
        )
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        record = {"node": node_name, "expires": self._time() + validity}
        write_atomically(self.directory / _digest(token.secret), json.dumps(record).encode())
        return token

    def consume(self, secret: str, node_name: str) -> None:
        """Use up the token with ``secret`` for ``node_name``, or raise why it is refused.

        The token is deleted by the first request that presents it, whether
        that request then succeeds or not: a secret is never tried twice.
        """
        if not isinstance(secret, str) or not secret:
            raise TokenError("the join request carries no token secret")
        path = self.directory / _digest(secret)
        try:
            record = json.loads(path.read_bytes())
            path.unlink()
        except FileNotFoundError:
            raise TokenError(
                "the join token is unknown or was already used: make a new one on the master"
                " with 'gnt-node join-token'"
            ) from None
        except ValueError:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            raise TokenError("the join token's record on the master is damaged") from None
        if not hmac.compare_digest(str(record.get("node")), node_name):
            raise TokenError(
                f"the join token was made for node {record.get('node')}, not for {node_name}"
            )
        if float(record.get("expires", 0)) < self._time():
            raise TokenError("the join token has expired: make a new one on the master")

    def purge_expired(self) -> int:
        """Delete expired tokens; return how many (blocking)."""
        removed = 0
        if not self.directory.is_dir():
            return 0
        for path in self.directory.iterdir():
            try:
                record = json.loads(path.read_bytes())
                expired = float(record.get("expires", 0)) < self._time()
            except (OSError, ValueError):
                expired = True
            if expired:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                removed += 1
        return removed
