"""The address a participant's request came from, for the limit on new arrivals per address.

Behind the HTTPS proxy every request arrives from the proxy (REMOTE_ADDR), so all participants
would share one address and one limit. The proxy appends the address it saw to X-Forwarded-For;
that last entry is the one to trust (entries before it come from the client and can be made up).
"""

from django.http import HttpRequest


def forwarded_by_proxy(request: HttpRequest) -> str:
    """The last X-Forwarded-For entry (added by our proxy), or REMOTE_ADDR without one."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or request.META.get("REMOTE_ADDR", "")
