"""`mobility registration assist`: the catalogue, distribution lists, aggregate summaries, publishing."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from mobility.registration import assistance, assistance_figures

from .cli_common import date_arg, file_text, operation_find, row_errors_fail, user_find

HELP = (
    "Assistance: add items and entitlements, import a distribution list (refusals are row errors), "
    "print aggregates as CSV, publish a month."
)
EXAMPLE = "mobility registration assist summary --operation mozambique-cabo-delgado --from 2026-01-01 --to 2026-06-30"
DATES_REVERSED = "--from {date_from} is after --to {date_to}."
LIST_REFUSED = "Nothing recorded: {count} row error(s) in {path}."


def add_arguments(parser):
    sub = parser.add_subparsers(dest="action", required=True)
    summary = sub.add_parser(
        "summary", help="households and individuals assisted by area, item, month, sex and age (CSV)"
    )
    summary.add_argument("--operation", required=True, help="operation slug or name")
    summary.add_argument("--from", dest="date_from", required=True, help="first day, YYYY-MM-DD")
    summary.add_argument("--to", dest="date_to", required=True, help="last day (included), YYYY-MM-DD")
    summary.add_argument("--exact", action="store_true", help="do not suppress small cells (not for sharing)")
    imported = sub.add_parser(
        "import",
        help="record a CSV reference,household_reference,item_code,quantity,distributed_on[,site_code,distributor]",
    )
    imported.add_argument("file", help="the distribution list (CSV, UTF-8)")
    imported.add_argument("--operation", required=True, help="operation slug or name")
    imported.add_argument(
        "--user", required=True, help="recorded as this account (needs the distribute capability)"
    )
    imported.add_argument(
        "--override-reason",
        default="",
        help="record refused rows anyway, with this reason (data managers and admins with distribute)",
    )
    item = sub.add_parser(
        "item", help="add or change a catalogue item and, with --period-days, its entitlement"
    )
    item.add_argument("--operation", required=True, help="operation slug or name")
    item.add_argument("--code", required=True, help="item code, e.g. NFI")
    item.add_argument("--name", required=True, help='item name, e.g. "NFI kit"')
    item.add_argument("--unit", default="kit", help="unit (kit, basket, MZN, …)")
    item.add_argument("--sector", default="", help="sector, e.g. shelter")
    item.add_argument("--period-days", type=int, help="one entitlement per this many days")
    item.add_argument("--quantity", type=int, default=1, help="entitled quantity (default 1)")
    item.add_argument("--per-person", action="store_true", help="the quantity is per household member")
    item.add_argument("--population-group", default="", help="only households of this group (e.g. IDP)")
    item.add_argument("--valid-from", default="", help="entitlement in force from, YYYY-MM-DD")
    item.add_argument("--valid-to", default="", help="entitlement in force until, YYYY-MM-DD")
    item.add_argument("--user", required=True, help="a data manager or admin of the operation")
    publish = sub.add_parser(
        "publish", help="publish a month's aggregates and the registry counts (disclosure-checked)"
    )
    publish.add_argument("--operation", required=True, help="operation slug or name")
    publish.add_argument("--period", required=True, help="the month, YYYY-MM")
    publish.add_argument("--user", required=True, help="a data manager or admin of the operation")


def handle(command, *, action, operation, **options):
    out = command.stdout
    operation = operation_find(command, operation)
    try:
        if action == "summary":
            start = date_arg(command, "--from", options["date_from"])
            end = date_arg(command, "--to", options["date_to"])
            if start > end:
                command.fail(DATES_REVERSED.format(date_from=start, date_to=end))
            figures, _report = assistance_figures.assistance_figures(
                operation=operation, date_from=start, date_to=end, exact=options["exact"]
            )
            rows = [assistance_figures.figure_row(f, operation=operation) for f in figures]
            out.write(assistance_figures.figures_csv(rows, assistance_figures.FIGURE_FIELDS), ending="")
            return
        user = user_find(command, options["user"])
        if action == "import":
            text = file_text(command, options["file"])
            try:
                rows = assistance.distribution_list_read(text)
                counts = assistance.distribution_list_record(
                    operation=operation, rows=rows, by=user, override_reason=options["override_reason"]
                )
            except assistance.DistributionListInvalid as exc:
                row_errors_fail(
                    command, exc.errors, LIST_REFUSED.format(count=len(exc.errors), path=options["file"])
                )
            out.write(
                f"Recorded {len(rows)} distribution(s): created {counts.created}, updated {counts.updated}, "
                f"unchanged {counts.unchanged}, overridden {counts.overridden}."
            )
        elif action == "item":
            item = assistance.item_create(
                operation=operation,
                code=options["code"],
                name=options["name"],
                unit=options["unit"],
                sector=options["sector"],
                by=user,
            )
            out.write(f"Item {item.code}: {item.name} ({item.unit}).")
            if options["period_days"]:
                entitlement = assistance.entitlement_set(
                    operation=operation,
                    item=item,
                    quantity=options["quantity"],
                    per_person=options["per_person"],
                    period_days=options["period_days"],
                    population_group=options["population_group"],
                    valid_from=date_arg(command, "--valid-from", options["valid_from"])
                    if options["valid_from"]
                    else None,
                    valid_to=date_arg(command, "--valid-to", options["valid_to"])
                    if options["valid_to"]
                    else None,
                    by=user,
                )
                per = " per person" if entitlement.per_person else ""
                out.write(f"Entitlement: {entitlement.quantity}{per} every {entitlement.period_days} days.")
        elif action == "publish":
            publication = assistance_figures.assistance_publish(
                operation=operation, period=options["period"], by=user
            )
            suppressed = sum(part.get("suppressed_total", 0) for part in publication.report.values())
            out.write(
                f"Published {operation.slug} {publication.period_start:%Y-%m}: {publication.figures.count()} "
                f"assistance figures, {publication.registry.count()} registry figures, {suppressed} suppressed."
            )
    except (ValidationError, PermissionDenied) as exc:
        command.fail(" ".join(getattr(exc, "messages", [str(exc)])))
