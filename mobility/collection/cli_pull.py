"""`mobility collection pull`: register, list and run pulls from KoboToolbox and ODK Central."""

from __future__ import annotations

import sys

from django.core.exceptions import ValidationError

from mobility.core.command import RichProgress
from mobility.core.models import Operation

from .models import Form, PullSource
from .pulls import PullError, pull, pull_source_create, pull_source_update

HELP = "Pull submissions from KoboToolbox or ODK Central (new and edited ones, each stored once)."
EXAMPLE = (
    "mobility collection pull kobo-msna-moz\n"
    "  printf '%s\\n' \"$KOBO_TOKEN\" | mobility collection pull --add kobo-msna-moz --kind kobo "
    "--url https://kf.kobotoolbox.org --form aRdq3fXqS8e5H2KnPmW7Zt "
    "--operation mozambique-cabo-delgado --credential-stdin --every 60\n"
    "  mobility collection pull --list"
)
OPERATION_UNKNOWN = 'No operation "{name}"; see `mobility operations list`.'
SOURCE_UNKNOWN = 'No pull source "{name}"; see `mobility collection pull --list`.'
LOCAL_FORM_UNKNOWN = (
    'No form "{form_id}" in operation "{operation}"; publish it first or leave --local-form out.'
)
ONE_ACTION = "Give a SOURCE to pull, or one of --add NAME, --update NAME, --list."
ADD_NEEDS = "--add needs {missing}."
CREDENTIAL_STDIN = "Give the credential on standard input with --credential-stdin (never as an argument)."
CREDENTIAL_EMPTY = "No credential on standard input."
PLAIN_HTTP = "warning: {url} is plain http: the credential travels unencrypted."


def add_arguments(parser):
    parser.add_argument("source", nargs="?", help="the name of the source to pull now")
    parser.add_argument(
        "--reset", action="store_true", help="forget the cursor: pull everything again (stored once)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--list", action="store_true", help="list the pull sources")
    parser.add_argument("--add", metavar="NAME", help="register a source under this name (a slug)")
    parser.add_argument("--update", metavar="NAME", help="change a source (URL, credential, schedule, form)")
    parser.add_argument("--kind", choices=PullSource.Kind.values, help="kobo or central (with --add)")
    parser.add_argument(
        "--url", help="the server, e.g. https://kf.kobotoolbox.org or https://central.example.org"
    )
    parser.add_argument(
        "--form", dest="remote_form", metavar="REMOTE_FORM", help="Kobo asset uid, or Central xmlFormId"
    )
    parser.add_argument("--project", help="Central project id (a number)")
    parser.add_argument("--operation", help="operation slug or name (with --add; filters --list)")
    parser.add_argument(
        "--local-form",
        metavar="XML_FORM_ID",
        help="pull into this local form (default: created from the server)",
    )
    parser.add_argument(
        "--credential-stdin",
        action="store_true",
        help="read the credential from standard input (Kobo: API token; Central: email:password)",
    )
    parser.add_argument(
        "--every", type=int, metavar="MINUTES", help="pull on a schedule (0 = only on demand)"
    )


def _operation(command, name: str) -> Operation:
    operation = Operation.objects.filter(slug=name).first() or Operation.objects.filter(name=name).first()
    if operation is None:
        command.fail(OPERATION_UNKNOWN.format(name=name))
    return operation


def _source(command, name: str) -> PullSource:
    source = PullSource.objects.select_related("operation", "form").filter(name=name).first()
    if source is None:
        command.fail(SOURCE_UNKNOWN.format(name=name))
    return source


def _credential(command, options) -> str | None:
    if not options["credential_stdin"]:
        return None
    credential = sys.stdin.readline().strip()
    if not credential:
        command.fail(CREDENTIAL_EMPTY)
    return credential


def _local_form(command, operation: Operation, xml_form_id: str | None) -> Form | None:
    if not xml_form_id:
        return None
    form = Form.objects.filter(operation=operation, xml_form_id=xml_form_id).first()
    if form is None:
        command.fail(LOCAL_FORM_UNKNOWN.format(form_id=xml_form_id, operation=operation.slug))
    return form


def _schedule(source: PullSource) -> str:
    return f"every {source.schedule_minutes} min" if source.schedule_minutes else "on demand"


def _counts(counts: dict) -> str:
    return (
        f"fetched {counts.get('fetched', 0)}, created {counts.get('created', 0)}, "
        f"edits {counts.get('edit', 0)}, duplicates {counts.get('duplicate', 0)}, "
        f"conflicts {counts.get('conflict', 0)}, attachments {counts.get('attachments', 0)}"
    )


def _warn_plain_http(command, url: str) -> None:
    if url.startswith("http://") and not url.startswith(
        ("http://127.0.0.1", "http://localhost", "http://[::1]")
    ):
        command.stderr.write(PLAIN_HTTP.format(url=url))


def _add(command, options) -> None:
    required = {"--kind": "kind", "--url": "url", "--form": "remote_form", "--operation": "operation"}
    missing = [flag for flag, key in required.items() if not options.get(key)]
    if options.get("kind") == PullSource.Kind.CENTRAL and not options.get("project"):
        missing.append("--project")
    if missing:
        command.fail(ADD_NEEDS.format(missing=", ".join(missing)))
    if not options["credential_stdin"]:
        command.fail(CREDENTIAL_STDIN)
    operation = _operation(command, options["operation"])
    form = _local_form(command, operation, options.get("local_form"))
    try:
        source = pull_source_create(
            name=options["add"],
            operation=operation,
            kind=options["kind"],
            url=options["url"],
            credential=_credential(command, options),
            remote_form=options["remote_form"],
            remote_project=options.get("project") or "",
            form=form,
            schedule_minutes=options.get("every") or 0,
        )
    except ValidationError as exc:
        command.fail("; ".join(exc.messages))
    _warn_plain_http(command, source.url)
    project = f", project {source.remote_project}" if source.remote_project else ""
    command.stdout.write(
        f'Pull source "{source.name}" registered: {source.get_kind_display()} {source.url}, '
        f"form {source.remote_form}{project}, into {operation.slug}, {_schedule(source)}.\n"
        f"Pull now with: mobility collection pull {source.name}"
    )


def _update(command, options) -> None:
    source = _source(command, options["update"])
    try:
        source = pull_source_update(
            source=source,
            url=options.get("url"),
            credential=_credential(command, options),
            remote_form=options.get("remote_form"),
            remote_project=options.get("project"),
            form=_local_form(command, source.operation, options.get("local_form")),
            schedule_minutes=options.get("every"),
            reset_cursor=options.get("reset", False),
        )
    except ValidationError as exc:
        command.fail("; ".join(exc.messages))
    _warn_plain_http(command, source.url)
    command.stdout.write(f'Pull source "{source.name}" updated ({_schedule(source)}).')


def _list(command, options) -> None:
    sources = PullSource.objects.select_related("operation", "form").order_by("name")
    if options.get("operation"):
        sources = sources.filter(operation=_operation(command, options["operation"]))
    if not sources:
        command.stdout.write("No pull sources. Add one with --add (see --help).")
        return
    command.stdout.write("name\tkind\toperation\tserver\tremote form\tlocal form\tschedule\tlast pull\tstate")
    for source in sources:
        remote = (
            f"{source.remote_project}/{source.remote_form}" if source.remote_project else source.remote_form
        )
        last = source.last_pulled_at.isoformat(timespec="seconds") if source.last_pulled_at else "never"
        state = (
            f"error: {source.last_error.splitlines()[0]}"
            if source.last_error
            else _counts(source.last_counts)
        )
        command.stdout.write(
            f"{source.name}\t{source.kind}\t{source.operation.slug}\t{source.url}\t{remote}\t"
            f"{source.form.xml_form_id if source.form else '-'}\t{_schedule(source)}\t{last}\t{state}"
        )


def _pull(command, options) -> None:
    source = _source(command, options["source"])
    if options.get("reset"):
        source = pull_source_update(source=source, reset_cursor=True)
    try:
        counts = pull(source, progress=RichProgress(enabled=not options.get("quiet")))
    except PullError as exc:
        command.fail(str(exc))
    source.refresh_from_db()
    command.stdout.write(
        f"{source.name}: {_counts(counts)}; into form {source.form.xml_form_id if source.form else '-'}; "
        f"cursor {source.cursor or '(start)'}"
    )


def handle(command, **options):
    actions = [
        bool(options.get("source")),
        bool(options.get("add")),
        bool(options.get("update")),
        options["list"],
    ]
    if sum(actions) != 1:
        command.fail(ONE_ACTION)
    if options.get("add"):
        return _add(command, options)
    if options.get("update"):
        return _update(command, options)
    if options["list"]:
        return _list(command, options)
    return _pull(command, options)
