"""The Psych-DS package of a study (studyapp.psychds): valid against the copied Psych-DS 1.5.0 schema,
every column described, the data files the plain CSV exports, and served and refused as the other
exports are."""

import csv
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse

from studyapp import exports
from studyapp.models import Participant
from studyapp.psychds import rules
from studyapp.psychds.describe import datafile_path, keyword_value
from studyapp.psychds.validate import errors, validate_package
from tests.studyapp.judged import verification_study
from tests.studyapp.test_exports import build_study

ROOT = "ex-psych-ds/"
TABLES = ["responses", "responses-wide", "page-times", "participants", "stimuli", "texts", "codebook"]
#: What a package with every recommended field the options take still lacks, all recommendations: the
#: folders for analysis, results, materials and documentation, a .psychds-ignore file, and privacyPolicy
#: (listed as recommended by the schema but not a schema.org term, so left to the researcher).
EXPECTED_WARNINGS = {
    ("MISSING_ANALYSIS_DIRECTORY", "analysis"), ("MISSING_RESULTS_DIRECTORY", "results"),
    ("MISSING_MATERIALS_DIRECTORY", "materials"), ("MISSING_DOCUMENTATION_DIRECTORY", "documentation"),
    ("MISSING_PSYCHDSIGNORE", ".psychds-ignore"), ("JSON_KEY_RECOMMENDED", "dataset_description.json"),
}
DEPOSIT = [
    "--author", "Ada Lovelace", "--author", "Charles Babbage", "--license",
    "https://creativecommons.org/licenses/by/4.0/", "--citation", "Lovelace & Babbage (2026). Traces.",
    "--funder", "Analytical Engine Fund, grant 42", "--url", "https://osf.io/abcde/", "--identifier",
    "https://doi.org/10.17605/OSF.IO/ABCDE", "--keyword", "reasoning", "--keyword", "language models",
]


@pytest.fixture
def built(db):
    return build_study()


@pytest.fixture
def researcher_client(db, settings) -> Client:
    user = User.objects.create_user("res", password="pw-res-123")
    group, _ = Group.objects.get_or_create(name=settings.RESEARCHERS_GROUP)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


def export(tmp_path: Path, *options: str, slug: str = "ex") -> tuple[Path, str]:
    out = tmp_path / "package.zip"
    printed = io.StringIO()
    call_command("export_psychds", slug, str(out), *options, stdout=printed)
    return out, printed.getvalue()


def members(package: Path | bytes) -> dict[str, bytes]:
    """The package's files by path in the dataset (its one top folder left off)."""
    with zipfile.ZipFile(package if isinstance(package, Path) else io.BytesIO(package)) as archive:
        names = archive.namelist()
        (top,) = {name.split("/", 1)[0] for name in names}
        return {name.removeprefix(top + "/"): archive.read(name) for name in names}


def description_of(files: dict[str, bytes]) -> dict:
    return json.loads(files["dataset_description.json"])


def header(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode())))


# --- the package is Psych-DS ---------------------------------------------------------------------


def test_the_package_is_valid_psych_ds_with_what_a_deposit_needs(built, tmp_path):
    out, printed = export(tmp_path, *DEPOSIT)
    issues = validate_package(out)
    assert errors(issues) == []
    assert {(issue.code, issue.path) for issue in issues} == EXPECTED_WARNINGS
    assert [issue.detail for issue in issues if issue.code == "JSON_KEY_RECOMMENDED"] == ["No privacyPolicy."]
    files = members(out)
    assert sorted(files) == sorted([
        "dataset_description.json", "README.md", "CHANGES.md",
        *(f"data/study-ex_description-{keyword_value(name)}_data.csv" for name in TABLES),
    ])
    names = [Path(path).name for path in files if path.startswith("data/")]
    pattern = re.compile(rules.datafile_rule()["fileRegex"])
    assert all(pattern.fullmatch(name) for name in names)
    assert "data/study-ex_description-pageTimes_data.csv" in files
    description = description_of(files)
    assert (description["@context"], description["@type"]) == ("https://schema.org/", "Dataset")
    assert description["name"] == "Study ex" and "Conditions: decomposition" in description["description"]
    assert description["schemaVersion"] == "Psych-DS 1.5.0"
    assert description["author"] == ["Ada Lovelace", "Charles Babbage"]
    assert description["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert description["keywords"] == ["reasoning", "language models"]
    assert description["identifier"] == "https://doi.org/10.17605/OSF.IO/ABCDE"
    readme = files["README.md"].decode()
    assert "| `data/study-ex_description-responses_data.csv` |" in readme
    assert "participant_id, stimulus, item" in readme
    assert "No privacyPolicy" in printed and "No license" not in printed and "Prolific IDs" not in printed
    identifying = set(exports.IDENTIFYING_COLUMNS)
    data_files = [data for path, data in files.items() if path.startswith("data/")]
    assert all(not identifying & set(header(data)) for data in data_files)


def test_without_the_researchers_fields_it_is_valid_and_the_command_says_what_to_add(built, tmp_path):
    out, printed = export(tmp_path)
    issues = validate_package(out)
    assert errors(issues) == []
    lacking = {issue.detail for issue in issues if issue.code == "JSON_KEY_RECOMMENDED"}
    recommended = ["author", "citation", "license", "funder", "url", "identifier", "privacyPolicy",
                   "keywords"]
    assert lacking == {f"No {name}." for name in recommended}
    for detail in lacking:
        assert detail in printed
    assert "author" not in description_of(members(out))


def test_every_column_of_every_data_file_is_described_as_the_codebook_describes_it(built, tmp_path):
    files = members(export(tmp_path)[0])
    variables = {v["name"]: v for v in description_of(files)["variableMeasured"]}
    assert all(v["@type"] == "PropertyValue" and v["description"] for v in variables.values())
    columns = set()
    for path, data in files.items():
        if path.startswith("data/"):
            columns.update(header(data))
    assert columns == set(variables)
    book = exports.codebook(built.study)
    for column in book["columns"]["page_times"]:
        if column["name"] not in exports.IDENTIFYING_COLUMNS:
            assert column["description"] in variables[column["name"]]["description"]
    assert "prolific_pid" not in variables and "participant_id" in variables
    # A column the exports describe alike has one description; one they describe differently, each's.
    assert variables["status"]["description"] == "Participant status code (see the codebook's participant " \
        "statuses)."
    condition = variables["condition"]["description"]
    assert "responses: The condition code of the row's trial" in condition
    assert "stimuli, texts: Condition code: whose participants read this text." in condition
    assert variables["time_on_page_ms"]["unitText"] == "ms"
    # Coded values: the items with their wording and anchors, the conditions, the statuses.
    items = {term["termCode"]: term for term in variables["item"]["valueReference"]}
    for item in book["items"]:
        assert items[item["code"]]["name"] == item["text"]
        assert all(anchor["label"] in items[item["code"]]["description"] for anchor in item["anchors"])
    assert [t["termCode"] for t in variables["condition"]["valueReference"]] == [
        c["code"] for c in book["conditions"]]
    assert {t["termCode"] for t in variables["status"]["valueReference"]} == set(Participant.Status.values)
    points = max(item["scale_points"] for item in book["items"])
    assert (variables["value"]["minValue"], variables["value"]["maxValue"]) == (1, points)


def _rows_without_identifiers(data: bytes) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in exports.IDENTIFYING_COLUMNS}
            for row in csv.DictReader(io.StringIO(data.decode()))]


def test_the_data_files_are_the_plain_csv_exports_without_the_identifiers_unless_asked(
    built, tmp_path, admin_client
):
    package = members(export(tmp_path, "--completed")[0])
    plain = tmp_path / "plain"
    call_command("export_study", "ex", "--out", str(plain), "--completed", stdout=io.StringIO())
    assert len(list(plain.iterdir())) == len(TABLES)
    for name in TABLES:
        exported = (plain / f"ex-{name}.csv").read_bytes()
        assert _rows_without_identifiers(package[datafile_path("ex", name)]) == _rows_without_identifiers(
            exported), name
    (tmp_path / "with").mkdir()
    with_ids = members(export(tmp_path / "with", "--completed", "--include-identifiers")[0])
    for name in TABLES:
        assert with_ids[datafile_path("ex", name)] == (plain / f"ex-{name}.csv").read_bytes(), name
    api = admin_client.get(reverse("api:responses", args=["ex"]), {"format": "csv", "completed": "1"})
    assert with_ids[datafile_path("ex", "responses")] == b"".join(api.streaming_content)
    people = {row["participant_id"] for row in csv.DictReader(
        io.StringIO(package[datafile_path("ex", "participants")].decode()))}
    assert people == {str(p.pk) for p in built.completed}
    assert "only who completed the study" in description_of(package)["description"]


def test_a_verification_study_has_its_judgements_and_confidence_scale(admin_user, tmp_path):
    study = verification_study("verify", target=2)
    call_command("pilot", "verify", "--participants", "3", "--seed", "2", stdout=io.StringIO())
    out, _ = export(tmp_path, "--include-previews", slug="verify")
    assert errors(validate_package(out)) == []
    files = members(out)
    judgements = list(csv.DictReader(io.StringIO(files[datafile_path("verify", "judgements")].decode())))
    assert len(judgements) == 3 * study.trials_per_participant
    variables = {v["name"]: v for v in description_of(files)["variableMeasured"]}
    anchors = [a["name"] for a in variables["confidence"]["valueReference"]]
    assert anchors == study.confidence_anchors and variables["confidence"]["maxValue"] == len(anchors)
    assert variables["t1_confidence"]["valueReference"] == variables["confidence"]["valueReference"]


# --- the validator finds what is wrong ------------------------------------------------------------


def rewritten(package: Path, change) -> bytes:
    """The package with ``change(files)`` applied to its files (path -> bytes) before zipping again."""
    files = members(package)
    change(files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(ROOT + path, data)
    return buffer.getvalue()


def with_description(edit):
    def change(files: dict[str, bytes]) -> None:
        description = description_of(files)
        edit(description)
        files["dataset_description.json"] = json.dumps(description).encode()
    return change


def rename(old: str, new: str):
    def change(files: dict[str, bytes]) -> None:
        files[new] = files.pop(old)
    return change


def short_row(files: dict[str, bytes]) -> None:
    path = datafile_path("ex", "participants")
    files[path] += b"1,2\r\n"


RESPONSES = datafile_path("ex", "responses")


@pytest.mark.parametrize(("change", "code"), [
    (with_description(lambda d: d["variableMeasured"].pop(0)), "CSV_COLUMN_MISSING_FROM_METADATA"),
    (with_description(lambda d: d["variableMeasured"].append("no_such_column")),
     "VARIABLE_MISSING_FROM_CSV_COLUMNS"),
    (with_description(lambda d: d.pop("name")), "JSON_KEY_REQUIRED"),
    (with_description(lambda d: d.pop("@context")), "JSON_KEY_REQUIRED"),
    (with_description(lambda d: d.pop("@type")), "MISSING_DATASET_TYPE"),
    (with_description(lambda d: d.update({"@type": "Person"})), "INCORRECT_DATASET_TYPE"),
    (with_description(lambda d: d.update({"author": 7})), "INVALID_METADATA_VALUE"),
    (with_description(lambda d: d["variableMeasured"][0].pop("@type")), "OBJECT_TYPE_MISSING"),
    (with_description(lambda d: d.update({"colour": "blue"})), "INVALID_SCHEMAORG_PROPERTY"),
    (with_description(lambda d: d["variableMeasured"].append({"@type": "Dataset", "name": "x"})),
     "INVALID_OBJECT_TYPE"),
    (rename("dataset_description.json", "data/dataset_description.json"), "MISSING_DATASET_DESCRIPTION"),
    (rename(RESPONSES, "data/responses_data.csv"), "FILENAME_KEYWORD_FORMATTING_ERROR"),
    (rename(RESPONSES, "data/study-ex_table-responses_data.csv"), "FILENAME_UNOFFICIAL_KEYWORD_WARNING"),
    (rename(RESPONSES, "data/study-ex_description-responses_data.tsv"), "EXTENSION_MISMATCH"),
    (rename(RESPONSES, "responses.csv"), "FILE_NOT_CHECKED"),
    (rename("README.md", "READ_ME.md"), "MISSING_README_DOC"),
    (short_row, "CSV_HEADER_LENGTH_MISMATCH"),
    (lambda files: files.update({RESPONSES: b"a,a\r\n1,2\r\n"}), "CSV_HEADER_REPEATED"),
    (lambda files: files.update({RESPONSES: "study\r\n\xe9\r\n".encode("latin-1")}), "CSV_FORMATTING_ERROR"),
    (lambda files: files.update({RESPONSES: b""}), "FILE_EMPTY"),
    (lambda files: files.update({"dataset_description.json": b"{"}), "INVALID_JSON_FORMATTING"),
])
def test_the_validator_reports_what_breaks_the_rules(built, tmp_path, change, code):
    out, _ = export(tmp_path, *DEPOSIT)
    assert code not in {issue.code for issue in validate_package(out)}
    assert code in {issue.code for issue in validate_package(io.BytesIO(rewritten(out, change)))}


def test_every_data_file_gone_is_an_error(built, tmp_path):
    out, _ = export(tmp_path)

    def no_data(files: dict[str, bytes]) -> None:
        for path in [p for p in files if p.startswith("data/")]:
            files[path.replace("_data.csv", "_notes.csv")] = files.pop(path)

    issues = validate_package(io.BytesIO(rewritten(out, no_data)))
    assert "MISSING_DATAFILE" in {issue.code for issue in errors(issues)}


def test_keyword_values_are_letters_and_digits():
    assert keyword_value("page-times") == "pageTimes"
    assert keyword_value("my_study-2") == "myStudy2"
    with pytest.raises(ValueError, match="no letter or digit"):
        keyword_value("-_-")


# --- bad input: a clear error and no file ----------------------------------------------------------


def test_the_command_refuses_an_unknown_study_or_condition_and_writes_nothing(built, tmp_path):
    with pytest.raises(CommandError, match="No study with slug 'nope'"):
        export(tmp_path, slug="nope")
    with pytest.raises(CommandError, match="No condition 'r2' in ex; its conditions are"):
        export(tmp_path, "--condition", "r2")
    with pytest.raises(CommandError, match="No folder"):
        call_command("export_psychds", "ex", str(tmp_path / "missing" / "p.zip"))
    assert list(tmp_path.iterdir()) == []


def test_a_failure_while_writing_leaves_no_file(built, tmp_path, monkeypatch):
    def broken(study):
        def rows():
            yield ("x",) * len(exports.TEXT_COLUMNS)
            raise RuntimeError("the database went away")
        return exports.Table("texts", exports.TEXT_COLUMNS, rows)

    monkeypatch.setattr(exports, "texts_table", broken)
    with pytest.raises(RuntimeError, match="went away"):
        export(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_api_refuses_bad_input_saying_why(researcher_client, built):
    url = reverse("api:psych-ds", args=["ex"])
    assert researcher_client.get(reverse("api:psych-ds", args=["nope"])).status_code == 404
    response = researcher_client.get(url, {"condition": "r2"})
    assert response.status_code == 404 and "its conditions are" in response.json()["detail"]
    response = researcher_client.get(url, {"conditon": "r1"})
    assert response.status_code == 400 and "Unknown parameter" in str(response.json()["conditon"])
    response = researcher_client.get(url, {"license": ""})
    assert response.status_code == 400 and "Empty" in str(response.json()["license"])
    response = researcher_client.get(url, {"author": ["Ada Lovelace", ""]})
    assert response.status_code == 400
    assert response.json() == {"author": ["Value 2: This field may not be blank."]}
    response = researcher_client.get(url, {"format": "csv"})
    assert response.status_code == 400 and "use one of zip" in str(response.json()["format"])


# --- served as the other exports are -----------------------------------------------------------------


def test_the_api_streams_the_package_with_the_researchers_fields(researcher_client, built):
    response = researcher_client.get(reverse("api:psych-ds", args=["ex"]), {
        "author": ["Ada Lovelace", "Charles Babbage"], "license": "https://creativecommons.org/licenses/by/4.0/",
        "keywords": ["reasoning"], "status": "completed",
    })
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == 'attachment; filename="ex-psych-ds.zip"'
    data = b"".join(response.streaming_content)
    assert errors(validate_package(io.BytesIO(data))) == []
    files = members(data)
    description = description_of(files)
    assert description["author"] == ["Ada Lovelace", "Charles Babbage"]
    assert description["keywords"] == ["reasoning"] and "only status completed" in description["description"]
    rows = list(csv.DictReader(io.StringIO(files[datafile_path("ex", "participants")].decode())))
    assert {row["status"] for row in rows} == {"completed"}
    detail = researcher_client.get(reverse("api:study-detail", args=["ex"])).json()
    assert detail["exports"]["psych-ds"] == "http://testserver/api/v1/studies/ex/psych-ds/"


def test_who_may_download_it_is_who_may_download_the_other_exports(built, admin_client, researcher_client):
    for url_name in ["psych-ds", "responses"]:
        url = reverse(f"api:{url_name}", args=["ex"])
        assert Client().get(url).status_code == 401
        outsider = Client()
        outsider.force_login(User.objects.get_or_create(username=f"out-{url_name}")[0])
        assert outsider.get(url).status_code == 403
        assert researcher_client.get(url).status_code == 200
        assert admin_client.get(url).status_code == 200
