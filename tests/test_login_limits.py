"""Password logins are limited per address (django-axes), never per account, so nobody can lock the
admin out from elsewhere; a researcher lifts a lockout; participants never log in, so nothing here
touches them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ADMIN_LOGIN = "/admin/login/?next=/admin/"
API_LOGIN = "/api/v1/auth/login/"


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.org", "right-password-123")


def attempt(path: str, username: str, password: str, address: str) -> int:
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=address).status_code


def test_ten_wrong_passwords_lock_the_address_until_lifted(boss, django_user_model, settings):
    django_user_model.objects.create_superuser("other", "o@example.org", "other-password-123")
    codes = [attempt(ADMIN_LOGIN, "boss", "guess", "10.0.0.1") for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again; locked at the limit
    assert attempt(ADMIN_LOGIN, "boss", "right-password-123", "10.0.0.1") == 429  # the right one: unchecked
    assert attempt(ADMIN_LOGIN, "other", "other-password-123", "10.0.0.1") == 429  # nor anyone's from there
    call_command("axes_reset_ip", "10.0.0.1")
    assert attempt(ADMIN_LOGIN, "boss", "right-password-123", "10.0.0.1") == 302


@pytest.mark.parametrize("path", [ADMIN_LOGIN, API_LOGIN])
def test_a_stranger_cannot_lock_the_admin_out(boss, settings, path):
    """The issue: ten wrong passwords for the admin from any address locked the account everywhere."""
    for _ in range(settings.AXES_FAILURE_LIMIT + 5):
        attempt(path, "boss", "guess", "203.0.113.66")
    assert attempt(path, "boss", "right-password-123", "198.51.100.1") == 302  # the admin, elsewhere
    locked = Client().post(path, {"username": "boss", "password": "right-password-123"},
                           REMOTE_ADDR="203.0.113.66")
    assert locked.status_code == 429 and "Too many login attempts" in locked.content.decode()


def test_an_address_trying_many_accounts_is_locked(boss, settings):
    names = [f"user{n}" for n in range(settings.AXES_FAILURE_LIMIT - 1)] + ["boss"]
    assert [attempt(API_LOGIN, name, "guess", "203.0.113.70") for name in names][-1] == 429
    assert attempt(API_LOGIN, "boss", "right-password-123", "203.0.113.70") == 429
    assert attempt(API_LOGIN, "boss", "right-password-123", "203.0.113.71") == 302


def test_behind_the_proxy_failures_count_the_address_it_forwards(boss, settings):
    """Every request comes from the proxy (127.0.0.1); the address it saw is the one locked."""
    settings.AXES_CLIENT_IP_CALLABLE = "studyapp.client_address.forwarded_by_proxy"

    def through_proxy(password: str, client_address: str) -> int:
        return Client().post(ADMIN_LOGIN, {"username": "boss", "password": password}, REMOTE_ADDR="127.0.0.1",
                             HTTP_X_FORWARDED_FOR=client_address).status_code

    for _ in range(settings.AXES_FAILURE_LIMIT):
        through_proxy("guess", "203.0.113.80")
    assert through_proxy("right-password-123", "203.0.113.80") == 429
    assert through_proxy("right-password-123", "198.51.100.2") == 302


def test_a_researcher_lifts_a_lockout_in_the_admin(boss, admin_client, settings):
    from axes.models import AccessAttempt

    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(ADMIN_LOGIN, "boss", "guess", "10.0.2.1")
    locked = AccessAttempt.objects.get(username="boss")
    page = admin_client.get("/admin/axes/accessattempt/").content.decode()
    assert "boss" in page
    admin_client.post("/admin/axes/accessattempt/",
                      {"action": "delete_selected", "_selected_action": [locked.pk], "post": "yes"})
    assert not AccessAttempt.objects.exists()
    assert attempt(ADMIN_LOGIN, "boss", "right-password-123", "10.0.2.1") == 302
