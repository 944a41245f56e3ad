"""Deployment checks (`manage.py check --deploy`) for settings that work but mislead in production."""

from django.conf import settings
from django.core import checks

SHARED_CACHES = ("django.core.cache.backends.redis.RedisCache",)


@checks.register(checks.Tags.caches, deploy=True)
def arrival_limit_is_shared(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """The arrival limit counts in the cache: per process, each web worker would allow it again."""
    if settings.CACHES["default"]["BACKEND"] in SHARED_CACHES:
        return []
    return [checks.Warning(
        "The cache is each process's own memory, so every web worker counts new arrivals separately "
        f"and one address gets ARRIVAL_RATE_LIMIT ({settings.ARRIVAL_RATE_LIMIT}) per worker; each worker "
        "also has its own PROLIFIC_DOOR_CHECKS_AT_ONCE checks in flight, and its own pause after Prolific "
        "failed to answer, so a hanging Prolific can hold every worker at once.",
        hint="Set CACHE_URL to a Redis database, e.g. redis://127.0.0.1:6379/1.",
        id="studyapp.W001",
    )]
