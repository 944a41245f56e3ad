"""A study, page or export named with text no study can have (a NUL byte, which PostgreSQL refuses
in a query, or bytes that are not UTF-8) is a 404, JSON under /api/, never a 500: the URLs take
slugs only, so such a name never reaches the database. The suite runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import Walker, make_study

pytestmark = pytest.mark.django_db

NAMES = ["a%00b", "%00", "a%ffb", "a%0Ab"]
API_PATHS = ["/api/v1/studies/{}/", *(f"/api/v1/studies/{{}}/{export}/" for export in (
    "participants", "responses", "responses/wide", "page-times", "stimuli", "texts", "codebook"))]
SITE_PATHS = ["/study/{}/", "/study/{}/preview/", "/study/{}/monitor/", "/analysis/{}/"]


@pytest.mark.parametrize("name", NAMES)
def test_the_api_answers_a_json_404(admin_client, name):
    for path in API_PATHS:
        response = admin_client.get(path.format(name), {"format": "csv"})
        assert (response.status_code, response["Content-Type"]) == (404, "application/json"), path
        assert "No such study" in response.json()["detail"]


def test_a_missing_slash_is_still_added_under_the_api(admin_client):
    response = admin_client.get("/api/v1/studies")
    assert (response.status_code, response["Location"]) == (301, "/api/v1/studies/")


def test_the_api_checks_credentials_first():
    response = Client().get("/api/v1/studies/a%00b/responses/")
    assert response.status_code in (401, 403) and "detail" in response.json()


@pytest.mark.parametrize("name", NAMES)
def test_participant_and_researcher_pages_answer_404(admin_client, name):
    study = make_study("named")
    participant = Walker(Client(), study)
    participant.arrive()
    for path in SITE_PATHS:
        assert admin_client.get(path.format(name)).status_code == 404, path
    page = participant.url("consent").replace("/consent/", f"/{name}/")
    assert participant.client.get(page).status_code == 404
    assert participant.client.post(page, {"consent": "yes"}).status_code == 404
