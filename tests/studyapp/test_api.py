"""The researchers' API: who may read, formats, filters, streaming, and the OpenAPI schema."""

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group, User
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from drf_spectacular.validation import validate_schema
from rest_framework import serializers
from rest_framework.authtoken.models import Token

from studyapp.api import PageTimeRowSerializer, ParticipantRowSerializer, ResponseRowSerializer
from studyapp.models import Participant, Response, Study
from tests.studyapp.designed import FOUR, designed_study, walk_with_attrition
from tests.studyapp.test_exports import build_study, expected_long

STUDY_URLS = ["study-detail", "participants", "responses", "responses-wide", "page-times", "codebook"]
DATA_URLS = ["participants", "responses", "responses-wide", "page-times"]


def url(name: str, slug: str = "ex") -> str:
    return reverse(f"api:{name}", args=[slug]) if name in STUDY_URLS else reverse(f"api:{name}")


ALL_URLS = [*STUDY_URLS, "study-list", "root", "schema", "docs"]


@pytest.fixture
def built(db):
    return build_study()


@pytest.fixture
def researcher(db, settings) -> User:
    user = User.objects.create_user("res", password="pw-res-123")
    group, _ = Group.objects.get_or_create(name=settings.RESEARCHERS_GROUP)
    user.groups.add(group)
    return user


@pytest.fixture
def researcher_client(researcher) -> Client:
    client = Client()
    client.force_login(researcher)
    return client


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def csv_rows(response) -> tuple[list[str], list[dict]]:
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    reader = csv.DictReader(io.StringIO(body(response).decode()))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


# --- permissions -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_URLS)
def test_anonymous_users_are_refused_with_401(client, built, name):
    response = client.get(url(name))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("name", ALL_URLS)
def test_users_neither_staff_nor_researchers_are_refused_with_403(client, built, name):
    client.force_login(User.objects.create_user("someone", password="pw-someone-1"))
    assert client.get(url(name)).status_code == 403
    assert client.get(url(name), {"format": "csv"}).status_code in (403, 404)


@pytest.mark.parametrize("name", ALL_URLS)
def test_researchers_group_members_may_read(researcher_client, built, name):
    response = researcher_client.get(url(name))
    assert response.status_code == 200
    body(response)


@pytest.mark.parametrize("name", ALL_URLS)
def test_staff_may_read(admin_client, built, name):
    response = admin_client.get(url(name))
    assert response.status_code == 200
    body(response)


def test_a_staff_user_outside_the_group_may_read_but_an_inactive_member_may_not(built, researcher):
    staff = User.objects.create_user("staffer", password="pw-staff-123", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(url("responses")).status_code == 200
    researcher.is_active = False
    researcher.save()
    token = Token.objects.create(user=researcher)
    assert Client(HTTP_AUTHORIZATION=f"Token {token.key}").get(url("responses")).status_code in (401, 403)


def test_token_authentication(built, researcher):
    token = Token.objects.create(user=researcher)
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(url("responses"), {"format": "csv"})
    assert response.status_code == 200
    assert csv_rows(response)[1]
    assert Client(HTTP_AUTHORIZATION="Token wrong").get(url("responses")).status_code == 401
    outsider = Token.objects.create(user=User.objects.create_user("out", password="pw-out-1234"))
    assert Client(HTTP_AUTHORIZATION=f"Token {outsider.key}").get(url("responses")).status_code == 403


def test_errors_are_json_even_when_csv_was_asked_for(client, built):
    response = client.get(url("responses"), {"format": "csv"})
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


# --- formats and content -----------------------------------------------------------------------


@pytest.mark.parametrize("name", DATA_URLS)
def test_data_exports_stream_csv_and_json(researcher_client, built, name):
    as_csv = researcher_client.get(url(name), {"format": "csv"})
    header, rows = csv_rows(as_csv)
    assert rows
    assert as_csv["Content-Disposition"] == f'attachment; filename="ex-{name}.csv"'
    by_accept = researcher_client.get(url(name), HTTP_ACCEPT="text/csv")
    assert isinstance(by_accept, StreamingHttpResponse)
    assert body(by_accept).decode() == body(researcher_client.get(url(name), {"format": "csv"})).decode()
    as_json = researcher_client.get(url(name))
    assert isinstance(as_json, StreamingHttpResponse)
    assert as_json["Content-Type"] == "application/json"
    objects = json.loads(body(as_json))
    assert len(objects) == len(rows)
    assert list(objects[0]) == header
    # The same values: CSV cells are the JSON values written as text (null as empty).
    assert [{k: "" if v is None else str(v) for k, v in o.items()} for o in objects] == rows


def test_responses_long_over_http_match_the_database(researcher_client, built):
    header, rows = csv_rows(researcher_client.get(url("responses"), {"format": "csv"}))
    assert header[:5] == ["study", "participant_id", "prolific_pid", "condition", "is_preview"]
    assert rows == expected_long(built.study, participant__is_preview=False)
    assert len(rows) == Response.objects.filter(
        participant__study=built.study, participant__is_preview=False
    ).count()


def test_wide_over_http_has_one_row_per_participant(researcher_client, built):
    header, rows = csv_rows(researcher_client.get(url("responses-wide"), {"format": "csv"}))
    assert len(rows) == Participant.objects.filter(study=built.study, is_preview=False).count()
    assert "t1_predictability_1" in header and "end_predictability_overall" in header
    objects = json.loads(body(researcher_client.get(url("responses-wide"))))
    assert [o["participant_id"] for o in objects] == [int(r["participant_id"]) for r in rows]


def test_codebook_json_and_csv(researcher_client, built):
    book = researcher_client.get(url("codebook")).json()
    assert {i["code"] for i in book["items"]} >= {"predictability_1", "predictability_overall"}
    assert len(book["conditions"]) == 4
    assert {"responses", "responses_wide", "page_times", "participants", "stimuli", "texts"} == set(
        book["columns"]
    )
    header, rows = csv_rows(researcher_client.get(url("codebook"), {"format": "csv"}))
    assert header[:3] == ["section", "code", "label"]
    assert {r["section"] for r in rows} >= {"item", "condition", "participant_status", "responses_column"}


def test_studies_list_and_detail(researcher_client, built):
    studies = researcher_client.get(url("study-list")).json()
    assert [s["slug"] for s in studies] == ["ex"]
    detail = researcher_client.get(url("study-detail")).json()
    assert detail["trials_per_participant"] == 3 and sorted(detail["conditions"]) == sorted(
        ["decomposition", "r1", "r1_summary", "posthoc"]
    )
    assert detail["exports"]["responses"].endswith("/api/v1/studies/ex/responses/")
    as_csv = researcher_client.get(url("study-list"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    assert rows[0]["slug"] == "ex"
    assert researcher_client.get(url("study-detail", "nope")).status_code == 404


def test_studies_csv_is_flat_with_one_column_per_export_and_times_as_in_the_exports(researcher_client, built):
    as_csv = researcher_client.get(url("study-list"), {"format": "csv"})
    (row,) = list(csv.DictReader(io.StringIO(as_csv.content.decode())))
    for name in ["participants", "responses", "responses-wide", "page-times", "codebook"]:
        assert row[f"exports_{name.replace('-', '_')}"] == f"http://testserver{url(name)}"
    assert "exports" not in row and "{" not in as_csv.content.decode()
    # Every export writes times as datetime.isoformat() in UTC ("+00:00"), the studies too.
    assert row["created_at"] == built.study.created_at.isoformat() and row["created_at"].endswith("+00:00")
    assert researcher_client.get(url("study-detail")).json()["created_at"] == row["created_at"]
    _, participants = csv_rows(researcher_client.get(url("participants"), {"format": "csv"}))
    assert participants[0]["started_at"].endswith("+00:00")


def test_unknown_study_is_404(researcher_client, built):
    for name in STUDY_URLS:
        assert researcher_client.get(url(name, "nope")).status_code == 404


def test_browser_gets_the_browsable_api_for_small_endpoints(researcher_client, built):
    response = researcher_client.get(url("study-list"), HTTP_ACCEPT="text/html")
    assert response.status_code == 200 and b"<html" in response.content
    # A browser asking for an export gets it as JSON (a stream has no HTML page).
    response = researcher_client.get(
        url("responses"), HTTP_ACCEPT="text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    )
    assert response["Content-Type"] == "application/json"


# --- filters -----------------------------------------------------------------------------------


def test_filters(researcher_client, built):
    def ids(**params) -> set[int]:
        _, rows = csv_rows(researcher_client.get(url("participants"), {"format": "csv", **params}))
        return {int(r["participant_id"]) for r in rows}

    real = {built.completed[0].pk, built.completed[1].pk, built.screened_out.pk, built.active.pk,
            built.no_consent.pk}
    assert ids() == real
    assert ids(include_previews="1") == real | {built.preview.pk}
    assert ids(completed="1") == {p.pk for p in built.completed}
    assert ids(completed="1", include_previews="true") == {p.pk for p in built.completed} | {built.preview.pk}
    assert ids(status="screened_out") == {built.screened_out.pk}
    code = built.active.condition.code
    expected = set(Participant.objects.filter(
        study=built.study, condition__code=code, is_preview=False).values_list("pk", flat=True))
    assert ids(condition=code) == expected
    _, rows = csv_rows(researcher_client.get(url("responses"), {"format": "csv", "condition": code}))
    assert {r["condition"] for r in rows} == {code}
    _, rows = csv_rows(researcher_client.get(url("page-times"), {"format": "csv", "completed": "1"}))
    assert {int(r["participant_id"]) for r in rows} == {p.pk for p in built.completed}


@pytest.mark.parametrize("params", [{"condition": "no way"}, {"status": "gone"}, {"completed": "maybe"}])
def test_bad_filters_are_a_400(researcher_client, built, params):
    response = researcher_client.get(url("responses"), {"format": "csv", **params})
    assert response.status_code == 400
    assert list(response.json()) == list(params)


def test_a_condition_the_study_does_not_have_is_a_404_that_names_its_conditions(researcher_client, built):
    """Condition codes are the study's own: one it lacks is not exported as an empty file."""
    response = researcher_client.get(url("responses"), {"format": "csv", "condition": "nope"})
    assert response.status_code == 404
    assert "No condition 'nope'" in response.json()["detail"] and "r1_summary" in response.json()["detail"]


# --- signing in with a browser ------------------------------------------------------------------


def test_a_researcher_who_is_not_staff_signs_in_to_the_browsable_api_and_docs(built, researcher):
    client = Client(enforce_csrf_checks=True)
    login = reverse("rest_framework:login")
    assert login == "/api/v1/auth/login/"
    page = client.get(login, {"next": url("docs")})
    assert page.status_code == 200
    response = client.post(login, {
        "username": "res", "password": "pw-res-123", "next": url("docs"),
        "csrfmiddlewaretoken": page.cookies["csrftoken"].value,
    })
    assert response.status_code == 302 and response["Location"] == url("docs")
    docs = client.get(url("docs"), HTTP_ACCEPT="text/html")
    assert docs.status_code == 200 and "swagger-ui" in docs.content.decode()
    # The browsable API offers the sign-in link to anonymous browsers, and sign-out once signed in.
    assert "Log out" in client.get(url("study-list"), HTTP_ACCEPT="text/html").content.decode()
    anonymous = Client().get(url("root"), HTTP_ACCEPT="text/html")
    assert anonymous.status_code == 401
    assert f"{login}?next={url('root')}'>Log in</a>" in anonymous.content.decode()


def test_a_user_outside_the_group_signs_in_but_may_not_read_data(built):
    User.objects.create_user("someone", password="pw-someone-1")
    client = Client()
    login = {"username": "someone", "password": "pw-someone-1"}
    response = client.post(reverse("rest_framework:login"), login)
    assert response.status_code == 302 and response["Location"] == url("root")  # no ?next=: the API root
    for name in ["responses", "docs", "study-list"]:
        assert client.get(url(name)).status_code == 403


# --- schema and docs ---------------------------------------------------------------------------


def test_schema_is_a_valid_openapi_document(researcher_client, built):
    response = researcher_client.get(url("schema"), {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    validate_schema(schema)
    paths = schema["paths"]
    for path in ["/api/v1/studies/", "/api/v1/studies/{slug}/responses/", "/api/v1/studies/{slug}/codebook/",
                 "/api/v1/studies/{slug}/responses/wide/", "/api/v1/studies/{slug}/page-times/",
                 "/api/v1/studies/{slug}/participants/"]:
        assert path in paths
    responses = paths["/api/v1/studies/{slug}/responses/"]["get"]
    assert set(responses["responses"]["200"]["content"]) == {"application/json", "text/csv"}
    params = {p["name"] for p in responses["parameters"]}
    assert {"condition", "status", "completed", "include_previews", "format"} <= params
    assert "tokenAuth" in schema["components"]["securitySchemes"]


def test_docs_are_swagger_ui_served_locally_without_a_cdn(researcher_client, built):
    response = researcher_client.get(url("docs"), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html and "cdn.jsdelivr.net" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


def test_monitor_page_links_to_the_csv_downloads(admin_client, built):
    response = admin_client.get(reverse("studyapp:monitor", args=["ex"]))
    content = response.content.decode()
    for name in [*DATA_URLS, "codebook"]:
        link = f"{url(name)}?format=csv"
        assert link in content
        download = admin_client.get(link)
        assert download.status_code == 200 and isinstance(download, StreamingHttpResponse)


# --- studies researchers design ----------------------------------------------------------------


def conforms(rows: list[dict], serializer: type[serializers.Serializer]) -> bool:
    """Each JSON row has exactly the serializer's fields (the schema documents them), null only where it
    allows null."""
    fields = serializer().fields
    for row in rows:
        assert list(row) == list(fields), set(row) ^ set(fields)
        for name, value in row.items():
            assert value is not None or fields[name].allow_null, name
    return bool(rows)


def test_a_within_studys_exports_are_as_the_schema_documents_and_its_condition_filter_is_refused(
    researcher_client,
):
    study = designed_study("w4", FOUR, design=Study.Design.WITHIN, n_stimuli=8, trials=4, target=8)
    walk_with_attrition(study, first=2, then=1)
    for name, row in [("participants", ParticipantRowSerializer), ("responses", ResponseRowSerializer),
                      ("page-times", PageTimeRowSerializer)]:
        assert conforms(json.loads(body(researcher_client.get(url(name, "w4")))), row), name
    detail = researcher_client.get(url("study-detail", "w4")).json()
    assert detail["design"] == "within" and detail["conditions"] == ["plain", "steps", "digest", "posthoc-v2"]
    book = researcher_client.get(url("codebook", "w4")).json()
    assert book["design"]["code"] == "within"
    assert book["conditions"][2]["heading"] == "A summary of the reasoning"

    response = researcher_client.get(url("responses", "w4"), {"format": "csv", "condition": "steps"})
    assert response.status_code == 400
    assert "every participant reads every condition" in response.json()["condition"]
    response = researcher_client.get(url("responses", "w4"), {"condition": "r1"})
    assert response.status_code == 404
    assert response.json()["detail"] == (
        "No condition 'r1' in w4; its conditions are plain, steps, digest, posthoc-v2."
    )
