"""Per-FMP breakdowns become monthly (FlowBreakdown.date → month): daily ones held nearly a row per
count and value, and writing them was most of an import's time. The rows are derived, so they are
dropped and summed again from the counts. FlowDaily's (operation, date) index becomes covering for
the operation's totals by FMP over a period."""

import datetime

from django.db import migrations, models

DIMENSIONS = [
    "nationality",
    "reason",
    "transport",
    "intended_duration",
    "from_country",
    "to_country",
    "from_admin1",
    "to_admin1",
]


def rebuild(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    month = (
        "CAST(date_trunc('month', date) AS date)"
        if vendor == "postgresql"
        else "(substr(date, 1, 8) || '01')"
    )
    with schema_editor.connection.cursor() as cur:
        for dimension in DIMENSIONS:
            cur.execute(
                "INSERT INTO flows_flowbreakdown "  # noqa: S608 (our names)
                "(operation_id, fmp_id, month, direction, dimension, value, records, individuals) "
                f"SELECT operation_id, fmp_id, {month}, direction, %s, {dimension}, COUNT(*), SUM(individuals) "
                f"FROM flows_flowcount GROUP BY operation_id, fmp_id, {month}, direction, {dimension}",
                [dimension],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("flows", "0002_summaries_incremental_totals"),
    ]

    operations = [
        migrations.RunSQL("DELETE FROM flows_flowbreakdown", migrations.RunSQL.noop),
        migrations.RemoveConstraint(model_name="flowbreakdown", name="flowbreakdown_unique"),
        migrations.RemoveField(model_name="flowbreakdown", name="date"),
        migrations.AddField(
            model_name="flowbreakdown",
            name="month",
            field=models.DateField(
                default=datetime.date(2000, 1, 1), help_text="The first day of the month."
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="flowbreakdown",
            constraint=models.UniqueConstraint(
                fields=("fmp", "month", "direction", "dimension", "value"), name="flowbreakdown_month_unique"
            ),
        ),
        migrations.RunPython(rebuild, migrations.RunPython.noop),
        # The operation's totals over a period by FMP and direction, read from the index alone.
        migrations.RemoveIndex(model_name="flowdaily", name="flowdaily_op_date"),
        migrations.AddIndex(
            model_name="flowdaily",
            index=models.Index(
                fields=["operation", "date", "fmp", "direction", "individuals"],
                name="flowdaily_op_date_cover",
            ),
        ),
    ]
