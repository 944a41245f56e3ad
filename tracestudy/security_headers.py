"""django-csp's middleware with the site's policy built once per process.

django-csp builds the Content-Security-Policy header anew for every response (a copy of its table of
60 directives, a dataclass turned into a dict, each directive joined): 0.1-0.2 ms a request, 2-3% of
a participant's page. Here no view changes the policy per response (no ``csp_update`` or
``csp_replace`` decorators, no nonces), so a response that carries no such change gets the header
built from the settings once; any response that does, or a request whose nonce was used, goes through
django-csp's own code. The cache is emptied when a test changes the policy's settings.
"""

from __future__ import annotations

from functools import cache

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

#: Attributes that django-csp's decorators set on a response to change its policy.
_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro",
                 "_csp_replace_ro", "_csp_exempt", "_csp_exempt_ro")


@cache
def _site_policy(report_only: bool) -> tuple[str, tuple[str, ...]]:
    """The header built from the settings alone, and the URL prefixes it is not sent on."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY" if report_only else
                     "CONTENT_SECURITY_POLICY", None) or {}
    return build_policy(report_only=report_only), tuple(policy.get("EXCLUDE_URL_PREFIXES", None) or ())


@receiver(setting_changed)
def _forget_policy(setting: str, **kwargs: object) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _site_policy.cache_clear()


class CachedPolicyCSPMiddleware(CSPMiddleware):
    """The same headers as django-csp's middleware, the site's policy built once."""

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        # Read from the instances' own attributes, where django-csp sets them: a getattr that misses
        # raises and catches an AttributeError, nine a response (a tenth of a page's exceptions).
        on_response = vars(response)
        if vars(request).get("_csp_nonce") is not None or any(
                on_response.get(name) is not None for name in _PER_RESPONSE):
            return super().process_response(request, response)
        if response.status_code in (404, 500) and settings.DEBUG:  # django-csp leaves the debug pages alone
            return response
        for header, report_only in ((HEADER, False), (HEADER_REPORT_ONLY, True)):
            policy, excluded = _site_policy(report_only)
            if policy and header not in response and not request.path_info.startswith(excluded):
                response[header] = policy
        # as django-csp does: a nonce asked for once the header is written is an error, not a silent gap
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
