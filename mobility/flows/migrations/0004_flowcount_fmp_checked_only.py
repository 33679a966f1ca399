"""FlowCount: the database checks the FMP of every count, no longer its operation and job.

Each checked foreign key costs PostgreSQL a lookup per row written: a COPY of 1M counts took 20 s
with the three, 11 s with the FMP's alone. The operation is the FMP's (copied for the index) and
the job is provenance; Django's cascade and SET_NULL still apply. SQLite rebuilds the table (twice:
once per field), which takes a minute or two on ten million counts.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_round_number_from_zero"),
        ("flows", "0003_breakdown_monthly"),
    ]

    operations = [
        migrations.AlterField(
            model_name="flowcount",
            name="job",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="core.importjob",
            ),
        ),
        migrations.AlterField(
            model_name="flowcount",
            name="operation",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="core.operation",
            ),
        ),
    ]
