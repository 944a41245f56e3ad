"""Production refuses to start on unsafe settings; the demo starts with none."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import broker_of_worker

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = secrets.token_urlsafe(50)


def test_each_test_worker_has_a_redis_database_of_its_own():
    assert broker_of_worker("redis://127.0.0.1:6379/0", "gw1") == "redis://127.0.0.1:6379/1"
    assert broker_of_worker("redis://127.0.0.1:6379/1", "gw0") == "redis://127.0.0.1:6379/1"
    assert broker_of_worker("redis://127.0.0.1:6379", "gw2") == "redis://127.0.0.1:6379/2"
    assert broker_of_worker("redis://127.0.0.1:6379/0", "") == "redis://127.0.0.1:6379/0"  # no workers
    assert broker_of_worker("filesystem://", "gw1") == "filesystem://"


def _django_check(*args: str, **env: str) -> subprocess.CompletedProcess:
    unset = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CACHE_URL", "BEHIND_HTTPS_PROXY",
             "RATELIMIT_IP_META_KEY"}
    clean = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", "check", *args], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=120,
    )


def test_debug_off_with_the_demo_secret_key_refuses_to_start():
    result = _django_check(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY is the demo key" in result.stderr


@pytest.mark.parametrize(("key", "reason"), [
    ("short-but-varied-0123456789", "too short or too plain (27 characters"),
    ("a" * 60, "too short or too plain (60 characters, 1 different"),
    ("django-insecure-" + "k8#s0q9z2w1x" * 4, "one Django generated for development"),
])
def test_debug_off_with_a_weak_secret_key_refuses_to_start(key, reason):
    result = _django_check(DEBUG="0", SECRET_KEY=key, ALLOWED_HOSTS="study.example.org")
    assert result.returncode != 0 and reason in result.stderr, result.stderr[-500:]


def test_debug_off_with_a_real_secret_key_starts():
    result = _django_check(DEBUG="0", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="study.example.org")
    assert result.returncode == 0, result.stderr


def test_the_deploy_check_warns_when_the_arrival_limit_is_counted_per_process():
    production = {"DEBUG": "0", "SECRET_KEY": STRONG_KEY, "ALLOWED_HOSTS": "study.example.org"}
    alone = _django_check("--deploy", **production)
    assert "studyapp.W001" in alone.stderr + alone.stdout and "Set CACHE_URL" in alone.stderr + alone.stdout
    shared = _django_check("--deploy", CACHE_URL="redis://127.0.0.1:6379/1", **production)
    assert "studyapp.W001" not in shared.stderr + shared.stdout


def test_behind_the_proxy_arrivals_are_counted_by_the_address_the_proxy_forwards():
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.RATELIMIT_IP_META_KEY)"
    )
    env = {k: v for k, v in os.environ.items() if k != "RATELIMIT_IP_META_KEY"}
    read = [
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**env, "DJANGO_SETTINGS_MODULE": "tracestudy.settings",
                            "BEHIND_HTTPS_PROXY": flag})
        .stdout.strip()
        for flag in ("1", "0")
    ]
    assert read == ["studyapp.client_address.forwarded_by_proxy", "REMOTE_ADDR"]


def test_a_misspelt_yes_no_setting_is_an_error_not_a_silent_default():
    result = _django_check(DEBUG="maybe")
    assert result.returncode != 0 and "DEBUG='maybe' is not a yes/no value" in result.stderr


def test_gunicorn_refuses_to_serve_with_debug_on():
    result = subprocess.run(
        [sys.executable, "-c", "import runpy; runpy.run_path('gunicorn.conf.py')['on_starting'](None)"],
        cwd=ROOT, env={**os.environ, "DEBUG": "1"}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0 and "DEBUG is on" in result.stderr


def test_the_web_process_does_not_import_torch_even_when_it_queues_a_job():
    """Only GPU workers need torch; gunicorn web workers would each carry it for nothing."""
    script = (
        "import os, sys; import django; django.setup();"
        "from django.contrib import admin; admin.autodiscover(); import studyapp.urls;"
        "from celery import current_app; current_app.send_task('traces.run_job', args=[0]);"
        "print('torch' in sys.modules)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tracestudy.settings", "CELERY_BROKER_URL": "memory://"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("False")


def _database_options(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_PREPARED_STATEMENTS"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.DATABASES['default'].get('OPTIONS'))"],
        cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_postgresql_keeps_statements_prepared_unless_turned_off_for_a_pooler():
    url = "postgres://postgres@127.0.0.1:5432/anything"  # settings only; nothing connects
    assert _database_options(DATABASE_URL=url) == "{'server_side_binding': True, 'prepare_threshold': 2}"
    assert _database_options(DATABASE_URL=url, DB_PREPARED_STATEMENTS="0") == "{}"


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_and_a_permissions_policy(client, admin_client, settings):
    from django.test import Client

    from tests.conftest import Walker, make_study

    study = make_study("headers")
    walker = Walker(client, study)
    participant_page = walker.arrive()
    for response in (participant_page, admin_client.get("/admin/"), admin_client.get("/api/v1/docs/")):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-eval" not in policy
        assert "camera=()" in response["Permissions-Policy"]
    settings.SECURE_HSTS_SECONDS = 31536000  # production's default; the middleware reads it when it starts
    fresh = Client()
    assert fresh.get("/", secure=True)["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in fresh.get("/")  # never over plain HTTP


@pytest.mark.parametrize("change", ["none", "update", "exempt", "nonce", "report_only", "excluded"])
def test_the_cached_policy_headers_are_django_csps_own(rf, settings, change):
    """The policy is built once per process (tracestudy/security_headers.py); every response gets the
    headers django-csp's own middleware would give it, including the ones a view or a setting changes."""
    from csp.middleware import CSPMiddleware
    from django.http import HttpResponse

    from tracestudy.security_headers import CachedPolicyCSPMiddleware

    if change == "report_only":
        settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"]}}
    if change == "excluded":
        settings.CONTENT_SECURITY_POLICY = {**settings.CONTENT_SECURITY_POLICY,
                                            "EXCLUDE_URL_PREFIXES": ["/study/"]}
    headers = []
    for middleware_class in (CSPMiddleware, CachedPolicyCSPMiddleware):
        request = rf.get("/study/demo/")
        response = HttpResponse("page")
        middleware = middleware_class(lambda request, response=response: response)
        middleware.process_request(request)
        if change == "update":
            response._csp_update = {"img-src": ["https://example.org"]}
        if change == "exempt":
            response._csp_exempt = True
        if change == "nonce":
            str(request.csp_nonce)
            request._csp_nonce = "fixed"  # the same nonce on both sides
        middleware.process_response(request, response)
        headers.append({k: v for k, v in response.items() if "Security-Policy" in k})
    assert headers[0] == headers[1]
    if change in ("none", "update", "report_only", "nonce"):
        assert "script-src 'self'" in headers[1]["Content-Security-Policy"]
