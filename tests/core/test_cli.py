"""The CLI: thin commands over the same services, each refusing bad input with a clear message."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from mobility.core.models import ApiToken, Membership, Operation, Round

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]


def run(*args, stdin=""):
    out = io.StringIO()
    old = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        sys.stdin = old
    return out.getvalue()


def test_create_an_operation_and_list_it():
    assert "created operation mozambique-cabo-delgado (MOZ)" in run(
        "operations", "create", "Mozambique — Cabo Delgado", "--country", "moz"
    )
    assert "mozambique-cabo-delgado" in run("operations", "list")
    with pytest.raises(CommandError, match="already exists"):
        run("operations", "create", "Mozambique — Cabo Delgado", "--country", "MOZ")
    with pytest.raises(CommandError, match="ISO3"):
        run("operations", "create", "Nowhere", "--country", "XX1")
    assert Operation.objects.count() == 1


def test_a_round_through_its_lifecycle_from_the_cli(operation):
    run(
        "rounds",
        "create",
        "--operation",
        operation.slug,
        "--number",
        "1",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-31",
    )
    assert "now collecting" in run(
        "rounds", "advance", "--operation", operation.slug, "--number", "1", "--to", "collecting"
    )
    with pytest.raises(CommandError, match="it can only move to validating"):
        run("rounds", "advance", "--operation", operation.slug, "--number", "1", "--to", "published")
    assert Round.objects.get().status == "collecting"


def test_users_get_a_password_from_stdin_and_a_role(operation):
    out = run(
        "users",
        "create",
        "amina",
        "--operation",
        operation.slug,
        "--role",
        "data_manager",
        "--password-stdin",
        stdin="a-long-passphrase-for-amina\n",
    )
    assert "created user amina" in out
    user = get_user_model().objects.get(username="amina")
    assert user.check_password("a-long-passphrase-for-amina")
    assert Membership.objects.get(user=user).role == "data_manager"
    with pytest.raises(CommandError, match="too short"):
        run("users", "create", "bob", "--password-stdin", stdin="short\n")


def test_a_token_is_shown_once_and_revocable(viewer):
    out = run("tokens", "create", viewer.username, "--name", "export")
    key = out.split()[0]
    token = ApiToken.objects.get()
    assert token.key_hash == ApiToken.hash_key(key) and key not in run("tokens", "list")
    run("tokens", "revoke", token.prefix)
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_mobility_help_lists_every_command_with_an_example():
    result = subprocess.run(
        [sys.executable, "-m", "mobility.cli", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    for name in ("gazetteer", "operations", "rounds", "users", "tokens", "demo", "serve"):
        assert f"\n  {name} " in result.stdout, name
    assert result.stdout.count("e.g. mobility") >= 7
