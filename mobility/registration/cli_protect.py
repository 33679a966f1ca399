"""Data-protection subcommands of `mobility registration`: keys, erasure, retention, grants, access log.

Each subcommand is a class with HELP, EXAMPLE, add_arguments() and handle() (the shape
``SubcommandCommand`` expects of a module); all are thin wrappers over ``protection`` and ``access``.
``--user`` names the account an erasure is recorded as (it needs the erase grant); without it the
erasure is recorded as made from the command line (the operator of the server). ``grant`` records
the change under ``--by``, an admin of the operation (``--user`` is the member it concerns).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.utils import timezone

from mobility.core.command import RichProgress
from mobility.core.models import Operation

from . import access, crypto, protection
from .models import Capability, Purpose, RegistrationPolicy

OPERATION_UNKNOWN = 'No operation "{slug}"; the operations are: {slugs}.'
USER_UNKNOWN = 'No user "{name}".'
DATE_BAD = "{option} {value!r} is not a date; write YYYY-MM-DD."
HASH_KEY_FILE_BAD = (
    "--hash-key-from {value!r}: give a file holding the previous MOBILITY_HASH_KEY (base64, 32 bytes)"
)
ERASE_TARGET = "Give either --household REF or --individual REF (not both)."
GRANT_NOTHING = "Give at least one --capability (or --revoke alone to revoke every capability)."


def _operation(command, slug: str) -> Operation:
    found = Operation.objects.filter(slug=slug).first() or Operation.objects.filter(name=slug).first()
    if found is None:
        slugs = ", ".join(Operation.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        command.fail(OPERATION_UNKNOWN.format(slug=slug, slugs=slugs))
    return found


def _user(command, name: str | None):
    if not name:
        return None
    found = protection.user_find(name)
    if found is None:
        command.fail(USER_UNKNOWN.format(name=name))
    return found


def _date(command, option: str, value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        command.fail(DATE_BAD.format(option=option, value=value))


def _fail_on(command, exc: Exception):
    if isinstance(exc, ValidationError):
        command.fail("; ".join(exc.messages))
    command.fail(str(exc))


class NewKey:
    HELP = "Print a fresh random key (base64, 32 bytes) for MOBILITY_FIELD_KEYS or MOBILITY_HASH_KEY."
    EXAMPLE = "mobility registration new-key"

    @staticmethod
    def add_arguments(parser):
        pass

    @staticmethod
    def handle(command, **options):
        command.stdout.write(crypto.new_key())
        command.stderr.write(
            "Put it first in MOBILITY_FIELD_KEYS (keep the old key after it), run "
            "`mobility registration rotate-key`, then drop the old key. Store keys apart from backups."
        )


class RotateKey:
    HELP = (
        "Re-encrypt every personal value with the first key of MOBILITY_FIELD_KEYS (resumable: values "
        "already under it are skipped); --check only counts; --hash-key-from recomputes the keyed hashes."
    )
    EXAMPLE = "mobility registration rotate-key"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--check", action="store_true", help="count values per key, change nothing")
        parser.add_argument(
            "--hash-key-from",
            dest="hash_key_from",
            default="",
            metavar="FILE",
            help="a file holding the previous MOBILITY_HASH_KEY: recompute every keyed hash with the new one",
        )
        parser.add_argument("--batch-size", type=int, default=500, help="records per transaction")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    @staticmethod
    def handle(command, *, check=False, hash_key_from="", batch_size=500, quiet=False, **options):
        try:
            if check:
                found = protection.keys_check()
                command.stdout.write(f"values under the current key: {found.current}")
                command.stdout.write(f"values under an older key: {found.older}")
                for column, n in sorted(found.unreadable.items()):
                    command.stdout.write(f"unreadable with every listed key: {column}: {n}")
                if found.unreadable:
                    command.fail("some values open with no key of MOBILITY_FIELD_KEYS (see above)")
                return
            old_key = _old_hash_key(command, hash_key_from) if hash_key_from else None
            counts = protection.keys_rotate(batch_size=batch_size, progress=RichProgress(enabled=not quiet))
            command.stdout.write(
                f"records read {counts.records}, values re-encrypted {counts.resealed}, "
                f"already under the current key {counts.current}"
            )
            for column, n in sorted(counts.columns.items()):
                command.stdout.write(f"  {column}: {n}")
            if old_key is not None:
                crypto.reset_keys()
                hashes = protection.hashes_recompute(
                    old_key=old_key, batch_size=batch_size, progress=RichProgress(enabled=not quiet)
                )
                command.stdout.write(
                    f"keyed hashes: records {hashes.records}, recomputed {hashes.updated} "
                    f"(made with the old key {hashes.matched_old}, already current {hashes.matched_current}, "
                    f"neither key {hashes.matched_neither})"
                )
        except (protection.RotationFailed, ImproperlyConfigured, ValidationError) as exc:
            _fail_on(command, exc)


def _old_hash_key(command, value: str) -> bytes:
    path = Path(value)
    if not path.is_file():
        command.fail(HASH_KEY_FILE_BAD.format(value=value))
    try:
        return crypto.decode_key(path.read_text().strip(), "--hash-key-from")
    except ImproperlyConfigured:
        command.fail(HASH_KEY_FILE_BAD.format(value=value))


class Erase:
    HELP = (
        "Erase a household (with its members) or one person on request: personal fields blanked, "
        "documents deleted, status erased; counts by area, sex, birth year and distributions stay."
    )
    EXAMPLE = 'mobility registration erase --operation moz-cabo-delgado --household HH-0042 --reason "request 2026-117"'

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug or name")
        parser.add_argument("--household", default="", help="the household's reference (household_id)")
        parser.add_argument("--individual", default="", help="the person's reference (individual_id)")
        parser.add_argument(
            "--reason", required=True, help="why (a reference to the request; never a name or a number)"
        )
        parser.add_argument(
            "--user",
            default="",
            help="the account the erasure is recorded as (needs erase); default: the command line",
        )

    @staticmethod
    def handle(command, *, operation, household="", individual="", reason, user="", **options):
        op = _operation(command, operation)
        if bool(household) == bool(individual):
            command.fail(ERASE_TARGET)
        user = _user(command, user)
        try:
            if household:
                counts = protection.erase_household(
                    household=protection.household_find(op, household), by=user, reason=reason
                )
            else:
                counts = protection.erase_individual(
                    individual=protection.individual_find(op, individual), by=user, reason=reason
                )
        except (ValidationError, PermissionDenied) as exc:
            _fail_on(command, exc)
        if not (counts.households or counts.individuals):
            command.stdout.write("nothing to erase: the record was already erased")
            return
        command.stdout.write(
            f"erased: households {counts.households}, individuals {counts.individuals}, "
            f"identity documents deleted {counts.documents}"
        )


class Purge:
    HELP = (
        "Erase the records closed (closed, moved, not found) for longer than the operation's retention "
        "period; --dry-run lists them."
    )
    EXAMPLE = "mobility registration purge --operation moz-cabo-delgado --dry-run"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug or name")
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would be erased, change nothing"
        )
        parser.add_argument("--today", default="", help="count the period up to this day (YYYY-MM-DD)")
        parser.add_argument(
            "--user",
            default="",
            help="the account the erasures are recorded as (needs erase); default: the command line",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    @staticmethod
    def handle(command, *, operation, dry_run=False, today="", user="", quiet=False, **options):
        op = _operation(command, operation)
        day = _date(command, "--today", today) or timezone.localdate()
        user = _user(command, user)
        try:
            plan, counts = protection.purge_closed(
                operation=op, today=day, by=user, dry_run=dry_run, progress=RichProgress(enabled=not quiet)
            )
        except (ValidationError, PermissionDenied) as exc:
            _fail_on(command, exc)
        if plan.retention_days is None:
            command.stdout.write(protection.RETENTION_NOT_SET.format(operation=op.slug))
            return
        closed = "closed before " + plan.cutoff.date().isoformat()
        if dry_run:
            command.stdout.write(
                f"would erase ({closed}): households {len(plan.households)}, "
                f"individuals of other households {len(plan.individuals)}"
            )
            for h in plan.households[:50]:
                command.stdout.write(f"  household {h.reference} ({h.status})")
            for i in plan.individuals[:50]:
                command.stdout.write(f"  individual {i.reference} ({i.status})")
            return
        command.stdout.write(
            f"erased ({closed}): households {counts.households}, individuals {counts.individuals}, "
            f"identity documents deleted {counts.documents}"
        )


class Retention:
    HELP = "Show or set how many days closed records are kept before `purge` erases them."
    EXAMPLE = "mobility registration retention --operation moz-cabo-delgado --days 730"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug or name")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--days", type=int, default=None, help="keep closed records this many days")
        group.add_argument("--keep", action="store_true", help="remove the period: closed records are kept")

    @staticmethod
    def handle(command, *, operation, days=None, keep=False, **options):
        op = _operation(command, operation)
        if days is not None or keep:
            try:
                protection.retention_set(operation=op, days=None if keep else days)
            except ValidationError as exc:
                _fail_on(command, exc)
        policy = RegistrationPolicy.objects.filter(operation=op).first()
        if policy is None or policy.retention_days is None:
            command.stdout.write(f"{op.slug}: closed records are kept (no retention period)")
        else:
            command.stdout.write(
                f"{op.slug}: closed records are erased {policy.retention_days} days after closing"
            )


class Grant:
    HELP = (
        "Give a member registration capabilities in an operation (added to those held), or --revoke "
        "them (all when none is named); recorded under --by, an admin of the operation."
    )
    EXAMPLE = (
        "mobility registration grant --operation moz-cabo-delgado --user amina --capability view "
        "--capability register --by admin"
    )

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug or name")
        parser.add_argument("--user", required=True, help="the member's user name")
        parser.add_argument(
            "--capability",
            action="append",
            default=[],
            choices=[c.value for c in Capability],
            help="repeat for several",
        )
        parser.add_argument("--revoke", action="store_true", help="remove the named capabilities (or all)")
        parser.add_argument("--expires", default="", help="the grant ends on this day (YYYY-MM-DD)")
        parser.add_argument("--by", required=True, help="your user name (an admin of the operation)")

    @staticmethod
    def handle(command, *, operation, user, capability, revoke=False, expires="", by, **options):
        op = _operation(command, operation)
        member, admin = _user(command, user), _user(command, by)
        expires_on = _date(command, "--expires", expires)
        current = set(access.capabilities_of(member, op))
        if revoke:
            wanted = current - set(capability) if capability else set()
        else:
            if not capability:
                command.fail(GRANT_NOTHING)
            wanted = current | set(capability)
        expires_at = (
            timezone.make_aware(dt.datetime.combine(expires_on + dt.timedelta(days=1), dt.time.min))
            if expires_on
            else None
        )
        try:
            grant = access.grant_set(
                operation=op, user=member, capabilities=sorted(wanted), by=admin, expires_at=expires_at
            )
        except (ValidationError, PermissionDenied) as exc:
            _fail_on(command, exc)
        held = ", ".join(grant.capabilities) or "none (revoked)"
        command.stdout.write(f"{member.get_username()} in {op.slug}: {held}")


class AccessLogExport:
    HELP = "Write the operation's access log as CSV (who, when, action, purpose, record ids; never values)."
    EXAMPLE = "mobility registration access-log --operation moz-cabo-delgado --from 2026-01-01 -o access.csv"

    @staticmethod
    def add_arguments(parser):
        parser.add_argument("--operation", required=True, help="operation slug or name")
        parser.add_argument("--user", default="", help="only this user's entries (user name)")
        parser.add_argument("--from", dest="date_from", default="", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", default="", help="last day (included), YYYY-MM-DD")
        parser.add_argument("--action", default="", choices=["", *protection.AccessLog.Action.values])
        parser.add_argument("--purpose", default="", choices=["", *Purpose.values])
        parser.add_argument(
            "--object-id", dest="object_id", default="", help="only entries about this record id"
        )
        parser.add_argument("-o", "--output", default="", help="file to write (default: standard output)")

    @staticmethod
    def handle(
        command,
        *,
        operation,
        user="",
        date_from="",
        date_to="",
        action="",
        purpose="",
        object_id="",
        output="",
        **options,
    ):
        op = _operation(command, operation)
        filters = protection.AccessLogFilter(
            user=user or None,
            action=action or None,
            purpose=purpose or None,
            date_from=_date(command, "--from", date_from),
            date_to=_date(command, "--to", date_to),
            object_id=object_id or None,
        )
        text = protection.access_log_csv(protection.access_log_rows(operation=op, filters=filters).iterator())
        if output:
            Path(output).write_text(text, encoding="utf-8")
            rows = text.count("\n") - 1
            command.stdout.write(f"{rows} entries written to {output}")
        else:
            command.stdout.write(text, ending="")
