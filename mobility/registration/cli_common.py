"""What the verify and assist subcommands share: finding the operation and the user, printing row errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.contrib.auth import get_user_model

from mobility.core.command import SHOWN_ERRORS
from mobility.core.models import Operation

OPERATION_UNKNOWN = 'No operation named or with the slug "{name}".'
USER_UNKNOWN = (
    'No active user "{username}": the work is recorded as this account, which needs the capability.'
)
DATE_BAD = "{option} {value!r} is not a date; write YYYY-MM-DD."
FILE_UNREADABLE = "Cannot read {path}: {reason}"


def operation_find(command, name: str) -> Operation:
    operation = Operation.objects.filter(slug=name).first() or Operation.objects.filter(name=name).first()
    if operation is None:
        command.fail(OPERATION_UNKNOWN.format(name=name))
    return operation


def user_find(command, username: str):
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        command.fail(USER_UNKNOWN.format(username=username))
    return user


def date_arg(command, option: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        command.fail(DATE_BAD.format(option=option, value=value))


def file_text(command, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        command.fail(FILE_UNREADABLE.format(path=path, reason=exc.__class__.__name__))


def row_errors_fail(command, errors, summary: str) -> None:
    """Print the first row errors and stop (nothing was stored)."""
    for error in errors[:SHOWN_ERRORS]:
        command.stdout.write(f"  {error.text}")
    if len(errors) > SHOWN_ERRORS:
        command.stdout.write(f"  … and {len(errors) - SHOWN_ERRORS} more")
    command.fail(summary)
