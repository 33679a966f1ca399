"""The override reason of a distribution is free text that may name someone: encrypt it at rest."""

from django.db import migrations

import mobility.registration.crypto

AAD = "registration.distribution.override_reason"


def seal(apps, schema_editor):
    from mobility.registration.crypto import TOKEN_PREFIX, keyring

    Distribution = apps.get_model("registration", "Distribution")
    table = schema_editor.connection.ops.quote_name(Distribution._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, override_reason FROM {table} WHERE override_reason <> ''")  # noqa: S608
        rows = [(pk, text) for pk, text in cursor.fetchall() if text and not text.startswith(TOKEN_PREFIX)]
        for pk, text in rows:
            cursor.execute(
                f"UPDATE {table} SET override_reason = %s WHERE id = %s",  # noqa: S608
                [keyring().encrypt(text, AAD), pk],
            )


def unseal(apps, schema_editor):
    from mobility.registration.crypto import TOKEN_PREFIX, keyring

    Distribution = apps.get_model("registration", "Distribution")
    table = schema_editor.connection.ops.quote_name(Distribution._meta.db_table)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"SELECT id, override_reason FROM {table} WHERE override_reason <> ''")  # noqa: S608
        for pk, token in cursor.fetchall():
            if token.startswith(TOKEN_PREFIX):
                text = keyring().decrypt(token, AAD)[:500]
                cursor.execute(f"UPDATE {table} SET override_reason = %s WHERE id = %s", [text, pk])  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0002_assistance_publication"),
    ]

    operations = [
        migrations.AlterField(
            model_name="distribution",
            name="override_reason",
            field=mobility.registration.crypto.EncryptedTextField(blank=True),
        ),
        migrations.RunPython(seal, unseal),
    ]
