"""Password logins are limited per account and per address (django-axes); a researcher lifts a
lockout; participants never log in, so nothing here touches them."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/?next=/admin/"
API_LOGIN = "/api/v1/auth/login/"


@pytest.fixture
def boss(django_user_model):
    return django_user_model.objects.create_superuser("boss", "boss@example.org", "right-password-123")


def attempt(path: str, username: str, password: str, address: str) -> int:
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=address).status_code


def test_ten_wrong_passwords_lock_the_account_and_the_address_until_lifted(boss, django_user_model, settings):
    django_user_model.objects.create_superuser("other", "o@example.org", "other-password-123")
    codes = [attempt(ADMIN_LOGIN, "boss", "guess", "10.0.0.1") for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert codes == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]  # the form again; locked at the limit
    assert attempt(ADMIN_LOGIN, "boss", "right-password-123", "10.0.0.2") == 429  # the account is locked
    assert attempt(ADMIN_LOGIN, "other", "other-password-123", "10.0.0.1") == 429  # so is the address
    assert attempt(ADMIN_LOGIN, "other", "other-password-123", "10.0.0.3") == 302  # others log in
    call_command("axes_reset_username", "boss")
    call_command("axes_reset_ip", "10.0.0.1")
    assert attempt(ADMIN_LOGIN, "boss", "right-password-123", "10.0.0.2") == 302


def test_the_api_login_is_limited_too(boss, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(API_LOGIN, "boss", "guess", "10.0.1.1")
    response = Client().post(API_LOGIN, {"username": "boss", "password": "right-password-123"},
                             REMOTE_ADDR="10.0.1.9")
    assert response.status_code == 429 and "Too many login attempts" in response.content.decode()


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
