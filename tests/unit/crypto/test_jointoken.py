"""Join tokens: usable once, for one node name, before they expire."""

from __future__ import annotations

import pytest

from corral.crypto.jointoken import JoinToken
from corral.crypto.jointoken import TokenError
from corral.crypto.jointoken import TokenStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, clock) -> TokenStore:
    return TokenStore(tmp_path / "tokens", now=clock)


def make(store: TokenStore, node: str = "node2.example.com", validity: int = 3600) -> JoinToken:
    return store.create(node, "node1.example.com", "192.0.2.1", 1811, "ab" * 32, validity)


def test_token_text_round_trips(store):
    token = make(store)
    text = token.encode()
    assert text.startswith("corral-join-v1:") and " " not in text
    assert JoinToken.decode(f"  {text}\n") == token


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hello", "not a corral join token"),
        ("corral-join-v1:!!!", "damaged"),
        ("corral-join-v1:e30", "damaged"),  # {} : fields missing
    ],
)
def test_damaged_tokens_are_named(text, message):
    with pytest.raises(TokenError, match=message):
        JoinToken.decode(text)


def test_the_master_keeps_only_a_hash_of_the_secret(store):
    token = make(store)
    files = list(store.directory.iterdir())
    assert len(files) == 1
    assert token.secret not in files[0].name and token.secret.encode() not in files[0].read_bytes()
    assert oct(files[0].stat().st_mode & 0o777) == "0o600"


def test_a_token_works_once(store):
    token = make(store)
    store.consume(token.secret, "node2.example.com")
    with pytest.raises(TokenError, match="unknown or was already used"):
        store.consume(token.secret, "node2.example.com")


def test_a_forged_secret_is_refused(store):
    make(store)
    with pytest.raises(TokenError, match="unknown or was already used"):
        store.consume("x" * 43, "node2.example.com")
    with pytest.raises(TokenError, match="carries no token secret"):
        store.consume("", "node2.example.com")


def test_a_token_is_for_one_node_and_is_spent_by_a_wrong_try(store):
    token = make(store)
    with pytest.raises(TokenError, match=r"made for node node2\.example\.com, not for evil"):
        store.consume(token.secret, "evil.example.com")
    with pytest.raises(TokenError, match="already used"):
        store.consume(token.secret, "node2.example.com")


def test_an_expired_token_is_refused(store, clock):
    token = make(store, validity=60)
    clock.now += 61
    with pytest.raises(TokenError, match="has expired"):
        store.consume(token.secret, "node2.example.com")


def test_purge_removes_only_expired_tokens(store, clock):
    make(store, "a.example.com", validity=10)
    keep = make(store, "b.example.com", validity=1000)
    clock.now += 11
    assert store.purge_expired() == 1
    store.consume(keep.secret, "b.example.com")
