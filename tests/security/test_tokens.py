"""API tokens: only a hash at rest, checked by hash, revocable from the command line, refused at once
when revoked or when their user is deactivated, and their last use recorded."""

from __future__ import annotations

import io

from django.core.management import call_command

from mobility.core.models import ApiToken
from mobility.core.services import api_token_create


def bearer(key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_the_plain_token_is_nowhere_in_the_database(viewer):
    token, key = api_token_create(user=viewer, name="weekly export")
    row = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(key in str(value) for value in row.values())
    assert row["key_hash"] == ApiToken.hash_key(key) and len(row["key_hash"]) == 64


def test_a_token_is_checked_by_its_hash_and_its_use_recorded(client, viewer):
    token, key = api_token_create(user=viewer, name="weekly export")
    assert token.last_used_at is None
    assert client.get("/api/v1/imports", **bearer(key)).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    # Knowing the stored hash does not help: it is not a token.
    assert client.get("/api/v1/imports", **bearer(token.key_hash)).status_code == 401
    assert client.get("/api/v1/imports", **bearer(key[:-1] + "x")).status_code == 401


def test_revoking_with_the_command_stops_the_token_at_once(client, viewer):
    token, key = api_token_create(user=viewer, name="weekly export")
    assert client.get("/api/v1/imports", **bearer(key)).status_code == 200
    call_command("tokens", "revoke", token.prefix, stdout=io.StringIO())
    assert client.get("/api/v1/imports", **bearer(key)).status_code == 401
    # The DTM-compatible API, which takes the token as a subscription key, no longer treats it as the user.
    token.refresh_from_db()
    used = token.last_used_at
    client.get("/api/dtm/v3/displacement/admin0", HTTP_OCP_APIM_SUBSCRIPTION_KEY=key)
    token.refresh_from_db()
    assert token.last_used_at == used


def test_a_deactivated_users_tokens_stop_working(client, viewer):
    _, key = api_token_create(user=viewer, name="weekly export")
    viewer.is_active = False
    viewer.save()
    assert client.get("/api/v1/imports", **bearer(key)).status_code == 401
