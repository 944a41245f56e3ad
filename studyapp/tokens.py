"""Scoped API tokens (models.StudyToken): made with a random key that is shown once and stored only as
its SHA-256, and read by DRF as ``Authorization: Token <key>``, as its own tokens are. A scoped key starts
with ``KEY_PREFIX``; any other key is left to DRF's TokenAuthentication (an account's own, unscoped token)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from django.utils import timezone
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from .models import StudyToken

KEY_PREFIX = "tss_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """A fresh key, its shown prefix, and its hash (what is stored)."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key[: len(KEY_PREFIX) + 6], hash_key(key)


def revoke(tokens, now: datetime | None = None) -> int:
    """Revoke the tokens not revoked yet; how many were."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=now or timezone.now())


class StudyTokenAuthentication(TokenAuthentication):
    """A scoped token authenticates as its account, with the token as ``request.auth`` (studyapp.access
    limits what it reaches); an expired or revoked one is refused (401)."""

    model = StudyToken

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if len(auth) != 2 or auth[0].lower() != self.keyword.lower().encode() \
                or not auth[1].startswith(KEY_PREFIX.encode()):
            return None
        try:
            return self.authenticate_credentials(auth[1].decode())
        except UnicodeError:
            raise AuthenticationFailed("Invalid token.") from None

    def authenticate_credentials(self, key: str):
        token = StudyToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
        now = timezone.now()
        if token is None or not token.usable(now):
            raise AuthenticationFailed("Invalid, expired or revoked token.")
        StudyToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token
