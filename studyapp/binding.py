"""Which browser may open a participant's pages: the one that arrived with their Prolific link.

At arrival the participant's browser gets a signed, HttpOnly cookie naming them. Their pages open
only with it. Another device resumes only through the original Prolific link: the same
PROLIFIC_PID, STUDY_ID and SESSION_ID (Prolific gives each submission its own SESSION_ID), which
binds that browser too. Knowing someone's Prolific ID alone opens nothing.
"""

import re
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .models import Participant, Study

SALT = "studyapp.participant"
MAX_AGE_S = 30 * 24 * 3600  # a participant may look at their completion code again for a month

_PHONE = re.compile(r"iPhone|iPod|Android.+Mobile|Mobile.+Firefox|Windows Phone|\bMobi\b", re.IGNORECASE)
_TABLET = re.compile(r"iPad|Tablet|Android|Kindle|Silk", re.IGNORECASE)


def cookie_name(study: Study) -> str:
    return f"participant-{study.pk}"


def bind(response: HttpResponse, participant: Participant) -> HttpResponse:
    """Name the participant in this browser, for their study's pages only."""
    response.set_signed_cookie(
        cookie_name(participant.study), str(participant.token), salt=SALT, max_age=MAX_AGE_S,
        path=f"/study/{participant.study.slug}/", httponly=True, samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )
    return response


def is_bound(request: HttpRequest, participant: Participant) -> bool:
    """Whether this browser arrived as this participant."""
    name = cookie_name(participant.study)
    value = request.COOKIES.get(name)
    if value is None:
        return False
    keys = (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    return _named(name, value, keys) == str(participant.token)


@lru_cache(maxsize=8192)
def _named(name: str, value: str, keys: tuple[str, ...]) -> str | None:
    """The participant a cookie's value names, if its signature holds (as request.get_signed_cookie reads
    it, with no age: the browser drops the cookie at its Max-Age). A signed value's check is the same on
    every page, so it is kept: an HMAC on every page request was 2% of a walk. ``keys`` (the signing
    keys) is there to be part of the cache's key: a rotated SECRET_KEY checks again."""
    carrying = HttpRequest()
    carrying.COOKIES = {name: value}
    return carrying.get_signed_cookie(name, default=None, salt=SALT)


def same_link(participant: Participant, study_id: str, session_id: str) -> bool:
    """Whether an arrival carries the participant's own STUDY_ID and SESSION_ID."""
    return participant.prolific_study_id == study_id and participant.prolific_session_id == session_id


def device_class(user_agent: str) -> str:
    """phone, tablet or desktop from a browser's User-Agent ("" when it sends none)."""
    if not user_agent:
        return ""
    if _PHONE.search(user_agent):
        return "phone"
    return "tablet" if _TABLET.search(user_agent) else "desktop"
