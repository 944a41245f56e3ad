"""The API does what its OpenAPI schema says: filters that are empty, unknown or not a value are a
400 with a message, an unknown format a 400, an unknown study a JSON 404; and schemathesis, run on a
live server, finds nothing the schema does not document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token

from tests.studyapp.test_api import url
from tests.studyapp.test_exports import build_study

pytestmark = pytest.mark.slow


@pytest.fixture
def researcher_client(db, client, settings):
    user = User.objects.create_user("res", password="pw-res-123")
    group, _ = Group.objects.get_or_create(name=settings.RESEARCHERS_GROUP)
    user.groups.add(group)
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "field", "says"), [
    ({"condition": ""}, "condition", "Empty"),
    ({"status": ""}, "status", "Empty"),
    ({"conditon": "r1"}, "conditon", "Unknown parameter"),
    ({"completed": "maybe"}, "completed", "valid boolean"),
    ({"format": ""}, "format", "not a format here"),
    ({"format": "xml"}, "format", "use one of csv, json"),
])
def test_a_bad_filter_or_format_is_a_400_that_says_why(researcher_client, query, field, says):
    build_study()
    response = researcher_client.get(url("responses"), query)
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert says in str(response.json()[field])


@pytest.mark.django_db
def test_an_unknown_study_or_dataset_is_a_json_404(researcher_client):
    for path in (url("responses", "nope"), "/api/v1/studies/no%20such%20study/responses/",
                 url("model-table") + "?dataset=nothing", "/api/v1/no-such-thing/"):
        response = researcher_client.get(path)
        assert response.status_code == 404 and "detail" in response.json()


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_failure(live_server, settings):
    """Every operation, positive and negative cases, responses checked against the schema."""
    build_study()
    user = User.objects.create_user("st", password="pw-st-123", is_staff=True)
    token = Token.objects.create(user=user).key
    command = [str(Path(sys.executable).parent / "st"), "run", f"{live_server.url}/api/v1/schema/",
               "-H", f"Authorization: Token {token}", "--max-examples", "25", "--seed", "7",
               "--no-color"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "passed" in result.stdout and "failure" not in result.stdout.split("SUMMARY")[-1].lower()
