"""`mobility tracking events import|import-sites|alerts`: ETT reports, site assessments, open alerts."""

from __future__ import annotations

from pathlib import Path

from django.db.models import Sum

from mobility.core.command import import_file
from mobility.core.models import Operation

from .events import alert_list, event_place
from .importers.events import EVENTS_KIND
from .importers.sites import SITES_KIND

HELP = "Emergency event tracking: import an ETT report or site assessments, list open alerts."
EXAMPLE = (
    "mobility tracking events import tests/tracking/data/ett_moz_cabo_delgado.csv "
    "--operation mozambique-cabo-delgado"
)
IMPORT_EXAMPLE = EXAMPLE
SITES_EXAMPLE = (
    "mobility tracking events import-sites tests/tracking/data/sa_moz_sites.csv "
    "--operation mozambique-cabo-delgado"
)
ALERTS_EXAMPLE = "mobility tracking events alerts --operation mozambique-cabo-delgado"
FILE_MISSING = "No such file: {path}"
OPERATION_UNKNOWN = 'No operation "{name}"; see `mobility operations list`.'


def add_arguments(parser):
    sub = parser.add_subparsers(dest="events_command", required=True)
    p = sub.add_parser(
        "import",
        help="import an ETT report (CSV/XLSX, one row per group movement); evaluates alert rules",
        epilog="Example:\n  " + IMPORT_EXAMPLE,
        formatter_class=parser.formatter_class,
    )
    p.add_argument("file", help="the report (.csv or .xlsx)")
    p.add_argument("--operation", required=True, help="operation slug or name")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser(
        "import-sites",
        help="import multi-sectoral site assessments (CSV/XLSX, one row per site and round)",
        epilog="Example:\n  " + SITES_EXAMPLE,
        formatter_class=parser.formatter_class,
    )
    p.add_argument("file", help="the site assessment file (.csv or .xlsx)")
    p.add_argument("--operation", required=True, help="operation slug or name")
    p.add_argument("--round", type=int, help="round number for rows without reporting_round")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p = sub.add_parser(
        "alerts",
        help="list the operation's open (unacknowledged) alerts",
        epilog="Example:\n  " + ALERTS_EXAMPLE,
        formatter_class=parser.formatter_class,
    )
    p.add_argument("--operation", required=True, help="operation slug or name")
    p.add_argument("--all", action="store_true", help="acknowledged alerts too")


def _operation(command, name: str) -> Operation:
    operation = Operation.objects.filter(slug=name).first() or Operation.objects.filter(name=name).first()
    if operation is None:
        command.fail(OPERATION_UNKNOWN.format(name=name))
    return operation


def _import(command, *, kind, file, operation, profile=None, quiet=False):
    path = Path(file)
    if not path.is_file():
        command.fail(FILE_MISSING.format(path=path))
    job = import_file(
        command,
        kind=kind,
        path=path,
        label=path.name,
        quiet=quiet,
        operation=operation,
        profile=profile or {},
    )
    return job


def handle(command, *, events_command, operation, **options):
    op = _operation(command, operation)
    out = command.stdout
    if events_command == "import":
        job = _import(
            command, kind=EVENTS_KIND, file=options["file"], operation=op, quiet=options.get("quiet")
        )
        events = job.summary.get("events", {})
        out.write(
            f"events: created {events.get('created', 0)}, updated {events.get('updated', 0)}, "
            f"unchanged {events.get('unchanged', 0)}; alerts raised {job.summary.get('alerts_created', 0)}"
        )
        return
    if events_command == "import-sites":
        profile = {"round": options["round"]} if options.get("round") else {}
        job = _import(
            command,
            kind=SITES_KIND,
            file=options["file"],
            operation=op,
            profile=profile,
            quiet=options.get("quiet"),
        )
        sites = job.summary.get("sites", {})
        out.write(
            f"sites: created {sites.get('created', 0)}, updated {sites.get('updated', 0)}, "
            f"unchanged {sites.get('unchanged', 0)}"
        )
        return
    alerts = list(
        alert_list(operation=op, open_only=not options.get("all")).annotate(
            total=Sum("event__movements__individuals")
        )
    )
    if not alerts:
        out.write(f"{op.name}: no {'alerts' if options.get('all') else 'open alerts'}")
        return
    out.write(f"{op.name}: {len(alerts)} {'alerts' if options.get('all') else 'open alert(s)'}")
    out.write("id\tevent\ttype\tdate\tplace\tindividuals\tstatus")
    for alert in alerts:
        event = alert.event
        status = "acknowledged" if alert.acknowledged_at else "open"
        out.write(
            f"{alert.pk}\t{event.code}\t{event.event_type}\t{event.date.isoformat()}\t"
            f"{event_place(event)}\t{alert.total or 0}\t{status}"
        )
