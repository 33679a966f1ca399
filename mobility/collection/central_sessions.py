"""Bearer-token sessions of the Central-compatible API (``POST /v1/sessions``): writes, in a transaction.

Only the SHA-256 of a token is stored; the plain token is handed out once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets

from django.db import transaction
from django.utils import timezone

from .models import CentralSession

log = logging.getLogger(__name__)

SESSION_LIFETIME = dt.timedelta(hours=24)


def hash_token(token: str) -> str:
    """What is stored of a token (and looked up for a bearer): its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def central_session_create(*, user) -> tuple[CentralSession, str]:
    """Open a bearer-token session for the user; the plain token is returned once, never stored."""
    now = timezone.now()
    CentralSession.objects.filter(user=user, expires_at__lte=now).delete()
    token = secrets.token_urlsafe(48)  # 64 characters, like Central's
    session = CentralSession(
        user=user,
        token_hash=hash_token(token),
        csrf=secrets.token_urlsafe(48),
        expires_at=now + SESSION_LIFETIME,
    )
    session.full_clean()
    session.save()
    log.info("central session %s opened for user %s", session.pk, user.pk)
    return session, token


@transaction.atomic
def central_session_end(*, session: CentralSession) -> None:
    """Log out: the session (and so its token) is deleted."""
    log.info("central session %s ended for user %s", session.pk, session.user_id)
    session.delete()
