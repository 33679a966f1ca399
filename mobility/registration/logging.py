"""Keeping personal data out of logs and exception reports.

Registration code never logs a value (only ids, counts and column names). These two pieces catch
what other code could let through:

- ``PersonalDataExceptionReporter`` (``DEFAULT_EXCEPTION_REPORTER``): an error report (the DEBUG
  page, the e-mail to ADMINS) about a registration request — or any traceback that passes through
  registration code — shows no POST/GET/FILES values, no local variables, no query string and no
  exception message (a parser's ``ValueError`` can quote the value it failed on), only their names,
  the code and the line numbers.
- ``PersonalDataLogFilter`` (on the console handler in ``LOGGING``): a log record whose traceback
  passes through registration code loses its exception message the same way, and a logged URL
  of a registration page loses its query string.
"""

from __future__ import annotations

import logging
import re
import traceback

from django.views.debug import ExceptionReporter

HIDDEN = "[hidden: personal data]"
MODULE_PREFIX = "mobility.registration"
# A path of the registration pages, its API or its admin, e.g. /registration/…, /api/v1/registration/…
PERSONAL_PATH = re.compile(r"/registration(?:/|$)")
_URL_WITH_QUERY = re.compile(r"(\S*/registration/\S*?)\?[^\s\"']*")
# Messages we write ourselves are constants that name columns and ids, never values.
_OWN_MESSAGES = ("mobility.registration.crypto", "mobility.registration.protection")


def is_personal_request(request) -> bool:
    if request is None:
        return False
    if PERSONAL_PATH.search(getattr(request, "path", "") or ""):
        return True
    match = getattr(request, "resolver_match", None)
    if match is not None and (
        match.app_name == "registration" or getattr(match.func, "personal_data", False)
    ):
        return True
    return False


def touches_registration(tb) -> bool:
    """Does this traceback pass through registration code?"""
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(MODULE_PREFIX):
            return True
        tb = tb.tb_next
    return False


def _exception_touches(exc: BaseException | None, seen=None) -> bool:
    seen = seen or set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if touches_registration(exc.__traceback__):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _message_safe(exc: BaseException | None) -> bool:
    return exc is not None and type(exc).__module__.startswith(_OWN_MESSAGES)


def hidden_message(exc: BaseException | None) -> str:
    if exc is None or _message_safe(exc):
        return str(exc) if exc is not None else ""
    return f"{HIDDEN} ({type(exc).__name__})"


def strip_query(text: str) -> str:
    return _URL_WITH_QUERY.sub(r"\1?[query hidden]", text)


class PersonalDataExceptionReporter(ExceptionReporter):
    """Django's error report, without any value when the error concerns personal data."""

    def _personal(self) -> bool:
        return (
            is_personal_request(self.request)
            or _exception_touches(self.exc_value)
            or touches_registration(self.tb)
        )

    def get_traceback_data(self):
        data = super().get_traceback_data()
        if not self._personal():
            return data
        for frame in data.get("frames", []):
            if "vars" in frame:
                frame["vars"] = [(name, HIDDEN) for name, _ in frame["vars"]]
            if frame.get("exc_cause") is not None:
                frame["exc_cause"] = hidden_message(frame["exc_cause"])
        if "exception_value" in data:
            data["exception_value"] = hidden_message(self.exc_value)
        data.pop("exception_notes", None)
        data["unicode_hint"] = ""
        data["filtered_POST_items"] = [(k, HIDDEN) for k, _ in data.get("filtered_POST_items", [])]
        if self.request is not None:
            data["request_GET_items"] = [(k, HIDDEN) for k in self.request.GET]
            data["request_FILES_items"] = [(k, HIDDEN) for k in self.request.FILES]
            data["request_insecure_uri"] = strip_query(data.get("request_insecure_uri", "").split("?")[0])
            meta = dict(data.get("request_meta", {}))
            for key in ("QUERY_STRING", "HTTP_REFERER", "REQUEST_URI", "RAW_URI", "CONTENT_LENGTH"):
                if meta.get(key):
                    meta[key] = HIDDEN
            data["request_meta"] = meta
        return data


class PersonalDataLogFilter(logging.Filter):
    """Drop exception messages raised through registration code, and query strings of its URLs."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return True
        cleaned = strip_query(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and _exception_touches(exc) and not _message_safe(exc):
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__, chain=False)
            lines[-1] = f"{type(exc).__name__}: {HIDDEN}\n"
            record.exc_text = "".join(lines).rstrip("\n")
        return True
