"""A control token the server makes can be pasted after ``--token`` as printed."""

from __future__ import annotations

import secrets

import pytest

from nanonet.observe import gate


def test_a_drawn_token_that_starts_with_a_dash_is_drawn_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["-looks-like-an-option", "Xk3_-fine-token-here"])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda _n: next(drawn))
    assert gate.new_token() == "Xk3_-fine-token-here"


def test_made_tokens_pass_the_servers_own_check() -> None:
    tokens = [gate.new_token() for _ in range(2000)]
    assert all(gate.check_token(t) == t and not t.startswith("-") for t in tokens)
    assert len(set(tokens)) == len(tokens)
