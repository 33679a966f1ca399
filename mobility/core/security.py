"""Sign-in safety: session expiry (idle and absolute) and the answer to a locked-out login.

The lockout itself is django-axes (settings ``AXES_*``): after ``AXES_FAILURE_LIMIT`` failed
sign-ins for one username from one address, that pair is refused for ``AXES_COOLOFF_TIME``,
whatever the password. It counts every way a password is tried: the login page, the admin, HTTP
Basic on the OpenRosa and Central-compatible endpoints, and ``POST /v1/sessions``.
"""

from __future__ import annotations

import time

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_logged_in
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

LOCKED_OUT = gettext_noop(
    "Too many failed log-ins for this username from this address. Log-in is locked for "
    "{minutes} minutes; an administrator can unlock it sooner."
)
SESSION_IDLE_EXPIRED = gettext_noop(
    "You were logged out after {minutes} minutes without activity. Log in again."
)
SESSION_ABSOLUTE_EXPIRED = gettext_noop("Your session is over (after {hours} hours). Log in again.")

# Session keys: when the session was signed in, and when it was last seen.
SESSION_STARTED = "mobility_auth_started"
SESSION_SEEN = "mobility_auth_seen"
# The last-seen time is written at most this often, so a busy page does not save the session per request.
SEEN_RESOLUTION_SECONDS = 60


def _lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """What a locked-out sign-in sees: the login page with the reason (429), or plain text for phones."""
    message = _(LOCKED_OUT).format(minutes=_lockout_minutes())
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.META.get("HTTP_AUTHORIZATION") or request.path_info.startswith(("/collect/", "/v1/", "/api/")):
        return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
    form = AuthenticationForm(request, data=None)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return render(
        request,
        "web/login.html",
        {"form": form, "locked_out": message, "username": username, "next": request.POST.get("next", "")},
        status=status,
    )


def client_ip(request) -> str:
    """The address a failed sign-in is counted against (settings.AXES_CLIENT_IP_CALLABLE).

    Behind the reverse proxy every request comes from the proxy, so with MOBILITY_TRUST_X_FORWARDED_FOR
    the address is the *last* X-Forwarded-For entry: the one the proxy itself appended (a client can
    put anything before it, nothing after). Without it, REMOTE_ADDR.
    """
    if settings.TRUST_X_FORWARDED_FOR:
        last = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if last:
            return last
    return request.META.get("REMOTE_ADDR", "")


class SessionExpiryMiddleware:
    """Log a signed-in session out after MOBILITY_SESSION_IDLE_MINUTES idle or SESSION_COOKIE_AGE in all.

    Django alone only has the cookie age, which every write to the session pushes forward; this keeps a
    fixed start time and a last-seen time in the session itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            now = int(time.time())
            session = request.session
            started = session.get(SESSION_STARTED)
            seen = session.get(SESSION_SEEN)
            idle_limit = settings.SESSION_IDLE_SECONDS
            if started is None:  # signed in before this middleware ran (or by force_login in a test)
                session[SESSION_STARTED] = started = now
            if now - started > settings.SESSION_COOKIE_AGE:
                self._expire(
                    request, _(SESSION_ABSOLUTE_EXPIRED).format(hours=settings.SESSION_COOKIE_AGE // 3600)
                )
            elif seen is not None and now - seen > idle_limit:
                self._expire(request, _(SESSION_IDLE_EXPIRED).format(minutes=idle_limit // 60))
            elif seen is None or now - seen >= SEEN_RESOLUTION_SECONDS:
                session[SESSION_SEEN] = now
        return self.get_response(request)

    @staticmethod
    def _expire(request, message: str) -> None:
        logout(request)  # flushes the session; the request goes on as anonymous
        messages.info(request, message)


def session_started(sender, request, user, **kwargs) -> None:
    """user_logged_in receiver: the absolute limit counts from the sign-in."""
    if hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED] = now
        request.session[SESSION_SEEN] = now


# Connected here rather than in an AppConfig: the middleware above imports this module before any request.
user_logged_in.connect(session_started, dispatch_uid="mobility.core.security.session_started")


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check, for sign-ins that come with a request (pages, Basic auth, admin).

    A call to ``authenticate()`` without a request (a script, Django's test client) has no address
    to tie a lockout to: it is passed on to the next backend unchecked, as axes cannot count it.
    Every sign-in over HTTP carries its request.
    """

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
