"""The address a request came from, for the limit on new arrivals and for login lockouts.

Behind the HTTPS proxy every request arrives from the proxy (REMOTE_ADDR), so all participants
would share one address and one limit. The proxy appends the address it saw to X-Forwarded-For,
but anyone can send that header: it is believed only from a trusted proxy (TRUSTED_PROXIES,
loopback by default). A client that reaches gunicorn directly is counted at its own address,
whatever it writes there; before, it chose a new address for every arrival.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def is_trusted_proxy(address: str) -> bool:
    """Whether ``address`` is in TRUSTED_PROXIES. An empty one is a peer on a Unix socket, a
    process on this machine, trusted as loopback is."""
    if not address:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def trusts_a_proxy_beyond_loopback() -> bool:
    """Whether TRUSTED_PROXIES names a proxy on another machine (or container)."""
    return any(not network.is_loopback for network in settings.TRUSTED_PROXIES)


def forwarded_by_proxy(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, unless that is a trusted proxy; then the X-Forwarded-For
    entry nearest the end that is not itself a trusted proxy (so a TLS proxy in front of nginx can be
    trusted too). Entries before it come from the client and can be made up."""
    peer = request.META.get("REMOTE_ADDR", "")
    if not is_trusted_proxy(peer):
        return peer
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted_proxy(hop):
            return hop
    return hops[0] if hops else peer
