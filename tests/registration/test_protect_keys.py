"""Key rotation: every encrypted column re-sealed with the new key, resumable; keyed hashes recomputed."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection

from mobility.registration import crypto, protection
from mobility.registration.models import Household, IdentityDocument, Individual
from tests.registration.factories import household_make

PHONE = "+258 84 555 0101"


@pytest.fixture
def keys(monkeypatch):
    """Set the field keys (and optionally the hash key) for the rest of the test."""

    def use(field_keys: list[str], hash_key: str | None = None):
        monkeypatch.setenv("MOBILITY_FIELD_KEYS", ",".join(field_keys))
        if hash_key:
            monkeypatch.setenv("MOBILITY_HASH_KEY", hash_key)
        crypto.reset_keys()

    yield use
    monkeypatch.undo()
    crypto.reset_keys()


def _register(operation):
    return household_make(
        operation,
        head={
            "given_name": "Fátima",
            "family_name": "Mussa",
            "other_names": "Fatima Musa",
            "phone": PHONE,
            "address": "Bairro 3, casa 14",
            "specific_needs": "single_parent",
            "document_type": "national_id",
            "document_number": "110100999888A",
            "wg_walking": "3",
        },
        members=[{"given_name": "Issa", "family_name": "Mussa"}],
    )


def _raw_tokens() -> dict[str, list[str]]:
    """Every stored token of every encrypted column, as the database holds it."""
    tokens: dict[str, list[str]] = {}
    for model, fields in protection.encrypted_columns().items():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(f.column for f in fields)} FROM {model._meta.db_table}"  # noqa: S608
            )
            for row in cursor.fetchall():
                for f, value in zip(fields, row, strict=True):
                    if value:
                        tokens.setdefault(f.aad, []).append(value)
    return tokens


def _plain_values() -> list:
    values = []
    for model in (Household, Individual, IdentityDocument):
        fields = [f.name for f in protection.encrypted_columns()[model]]
        for record in model.objects.order_by("pk"):
            values.append([getattr(record, f) for f in fields])
    return values


def test_every_encrypted_column_is_found_by_introspection():
    found = {f.aad for fields in protection.encrypted_columns().values() for f in fields}
    expected = {
        "registration.household.phone",
        "registration.household.address",
        "registration.household.specific_needs",
        "registration.individual.given_name",
        "registration.individual.family_name",
        "registration.individual.other_names",
        "registration.individual.date_of_birth",
        "registration.individual.disability",
        "registration.identitydocument.number",
    }
    assert expected <= found


def test_every_keyed_hash_column_is_known_to_the_hash_rotation():
    """A new *_hash column must be added to protection.KEYED_HASHES, or a hash-key change breaks it."""
    hash_columns = {
        f"{model._meta.label_lower}.{f.name}"
        for model in apps.get_app_config("registration").get_models()
        for f in model._meta.concrete_fields
        if f.name.endswith("_hash")
    }
    known = {f"{h.model._meta.label_lower}.{h.column}" for h in protection.KEYED_HASHES}
    assert hash_columns == known


@pytest.mark.django_db
def test_rotation_reseals_everything_and_the_old_key_can_be_dropped(operation, keys):
    key_a, key_b = crypto.new_key(), crypto.new_key()
    keys([key_a])
    _register(operation)
    before = _plain_values()
    tokens = _raw_tokens()
    assert len(tokens) >= 8 and all(crypto.keyring().is_current(t) for ts in tokens.values() for t in ts)

    keys([key_b, key_a])
    out = io.StringIO()
    call_command("registration", "rotate-key", "--quiet", stdout=out)
    total = sum(len(ts) for ts in tokens.values())
    assert f"values re-encrypted {total}," in out.getvalue()
    assert all(crypto.keyring().is_current(t) for ts in _raw_tokens().values() for t in ts)

    keys([key_b])  # the old key is gone: everything still reads
    assert _plain_values() == before
    person = Individual.objects.get(relationship="head")
    assert (person.given_name, person.other_names) == ("Fátima", ["Fatima Musa"])
    assert person.disability.get("walking") == 3
    assert IdentityDocument.objects.get().number == "110100999888A"

    again = protection.keys_rotate()  # idempotent
    assert (again.resealed, again.current) == (0, total)


class _StopAfter:
    """A progress that interrupts the rotation after n batches (like a killed process)."""

    def __init__(self, batches: int):
        self.left = batches

    def start(self, total, description):
        pass

    def advance(self, n=1):
        self.left -= 1
        if self.left <= 0:
            raise KeyboardInterrupt

    def finish(self):
        pass


@pytest.mark.django_db
def test_an_interrupted_rotation_resumes_where_it_stopped(operation, keys):
    key_a, key_b = crypto.new_key(), crypto.new_key()
    keys([key_a])
    for _ in range(3):
        _register(operation)
    total = sum(len(ts) for ts in _raw_tokens().values())
    keys([key_b, key_a])
    with pytest.raises(KeyboardInterrupt):
        protection.keys_rotate(batch_size=2, progress=_StopAfter(2))
    done = sum(crypto.keyring().is_current(t) for ts in _raw_tokens().values() for t in ts)
    assert 0 < done < total  # the finished batches are committed, the rest still under A
    rest = protection.keys_rotate(batch_size=2)
    assert rest.resealed == total - done and rest.current == done
    keys([key_b])
    assert Individual.objects.filter(given_name__isnull=False).count() == 6
    assert all(p.given_name for p in Individual.objects.all())


@pytest.mark.django_db
def test_a_missing_key_stops_the_rotation_naming_the_column_not_the_value(operation, keys):
    key_a, key_c = crypto.new_key(), crypto.new_key()
    keys([key_a])
    household = _register(operation)
    keys([key_c])  # A was dropped before rotating
    with pytest.raises(CommandError) as caught:
        call_command("registration", "rotate-key", "--quiet")
    message = str(caught.value)
    assert "registration.household." in message and f"record id {household.pk}" in message
    assert "MOBILITY_FIELD_KEYS" in message
    for value in ("Fátima", "Mussa", "555", "110100999888A", "g1."):
        assert value not in message
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("registration", "rotate-key", "--check", stdout=out)
    assert "unreadable with every listed key: registration.individual.given_name: 2" in out.getvalue()


@pytest.mark.django_db
def test_a_token_that_is_not_a_token_is_reported_not_crashed_on(operation, keys):
    keys([crypto.new_key()])
    household = _register(operation)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE registration_household SET address = %s WHERE id = %s", ["g1.%%%", household.pk]
        )
    with pytest.raises(protection.RotationFailed) as caught:
        keys([crypto.new_key(), crypto.new_key()])
        protection.keys_rotate()
    assert "registration.household" in str(caught.value)


@pytest.mark.django_db
def test_hash_key_change_recomputes_the_keyed_hashes(operation, keys, tmp_path):
    field_key, old_hash, new_hash = crypto.new_key(), crypto.new_key(), crypto.new_key()
    keys([field_key], old_hash)
    _register(operation)
    keys([field_key], new_hash)
    assert not Household.objects.filter(phone_hash=crypto.keyed_hash(PHONE, "phone")).exists()
    old_file = tmp_path / "old_hash_key"
    old_file.write_text(old_hash + "\n")
    out = io.StringIO()
    call_command("registration", "rotate-key", "--quiet", "--hash-key-from", str(old_file), stdout=out)
    # 1 phone, 2 names, 1 document; the child has no phone or document
    assert "recomputed 4 (made with the old key 4, already current 0, neither key 0)" in out.getvalue()
    assert Household.objects.filter(phone_hash=crypto.keyed_hash(PHONE, "phone")).exists()
    assert IdentityDocument.objects.filter(
        number_hash=crypto.keyed_hash("110100999888a", "document:national_id")
    ).exists()
    assert Individual.objects.filter(name_hash=crypto.keyed_hash("fatima MUSSA", "name")).exists()
    again = protection.hashes_recompute(old_key=crypto.decode_key(old_hash))
    assert again.updated == 0 and again.matched_current == again.records


@pytest.mark.django_db
def test_hash_rotation_refuses_the_current_key_as_the_old_one(operation, keys, tmp_path):
    field_key, hash_key = crypto.new_key(), crypto.new_key()
    keys([field_key], hash_key)
    same = tmp_path / "k"
    same.write_text(hash_key)
    with pytest.raises(CommandError, match="give the previous key"):
        call_command("registration", "rotate-key", "--quiet", "--hash-key-from", str(same))
    with pytest.raises(CommandError, match="a file holding the previous"):
        call_command("registration", "rotate-key", "--quiet", "--hash-key-from", str(tmp_path / "none"))


@pytest.mark.django_db
def test_recomputing_with_an_unchanged_key_changes_nothing(operation):
    """The hash formulas in KEYED_HASHES are the write path's (services.py)."""
    _register(operation)
    counts = protection.hashes_recompute()
    assert counts.records >= 4 and counts.updated == 0


def test_new_key_prints_a_usable_key():
    out = io.StringIO()
    call_command("registration", "new-key", stdout=out, stderr=io.StringIO())
    key = out.getvalue().strip()
    assert len(crypto.decode_key(key)) == 32
    assert (
        crypto.Keyring([crypto.decode_key(key)]).decrypt(
            crypto.Keyring([crypto.decode_key(key)]).encrypt("x", "a.b"), "a.b"
        )
        == "x"
    )


@pytest.mark.django_db
def test_a_query_comparing_an_encrypted_value_fails_loudly_instead_of_finding_nothing(operation):
    from django.core.exceptions import FieldError

    household = _register(operation)
    with pytest.raises(FieldError, match="registration.individual.given_name is encrypted"):
        list(Individual.objects.filter(given_name="Fátima"))
    with pytest.raises(FieldError):
        list(Household.objects.filter(phone__icontains="555"))
    assert Household.objects.exclude(address="").get() == household  # "" and isnull still work
    assert Individual.objects.filter(other_names="").count() == 1
    assert not Individual.objects.filter(given_name__isnull=True).exists()
