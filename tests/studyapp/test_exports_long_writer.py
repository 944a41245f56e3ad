"""The long export's own writer (studyapp.exports._long_chunks, which formats each page's shared cells
once) gives byte for byte what the generic csv_chunks and json_chunks give for its rows, so the speed-up
changes no file a researcher downloads."""

import pytest
from django.db import connection
from django.test import Client

from studyapp import exports
from studyapp.models import PageVisit, Participant, Stimulus, Study
from tests.studyapp.designed import FOUR, designed_study, walk_with_attrition
from tests.studyapp.test_exports import build_study

FILTERS = [
    exports.ParticipantFilter(),
    exports.ParticipantFilter(include_previews=True),
    exports.ParticipantFilter(completed_only=True),
    exports.ParticipantFilter(status=Participant.Status.ACTIVE),
]


def generic_bytes(table: exports.Table, fmt: str) -> bytes:
    chunks = exports.csv_chunks if fmt == "csv" else exports.json_chunks
    return b"".join(chunks(table.header, table.rows()))


def awkward_cells(study: Study) -> None:
    """Texts a writer must quote or make inert, and reading measures, so every cell kind is written."""
    people = list(Participant.objects.filter(study=study).order_by("pk"))
    for person, pid in zip(people, ['=1+1', 'a,"b"', "-x\ny", "", "Zoë 😀"], strict=False):
        Participant.objects.filter(pk=person.pk).update(prolific_pid=pid)
    stimulus = Stimulus.objects.filter(study=study).order_by("pk").first()
    Stimulus.objects.filter(pk=stimulus.pk).update(code='@p,"0"')
    PageVisit.objects.filter(participant__study=study, stimulus__isnull=False).update(
        trace_visible_ms=1234, trace_end_seen=True, trace_end_first_seen_ms=0, trace_end_visible_ms=55,
    )


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_long_writer_gives_the_generic_writers_bytes(db, fmt):
    built = build_study()
    awkward_cells(built.study)
    for flt in FILTERS:
        table = exports.long_table(built.study, flt)
        fast = list(table.chunks(fmt))
        assert b"".join(fast) == generic_bytes(table, fmt), flt
        assert len(fast) > 1 or fmt == "csv"


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_the_long_writer_gives_the_generic_writers_bytes_within_participants_and_in_small_chunks(
    db, fmt, monkeypatch
):
    study = designed_study("w4", FOUR, design=Study.Design.WITHIN, n_stimuli=8, trials=4, target=8)
    walk_with_attrition(study, first=2, then=1)
    monkeypatch.setattr(exports, "BATCH_ROWS", 7)  # several chunks, one ending mid-page
    table = exports.long_table(study, exports.ParticipantFilter())
    assert b"".join(table.chunks(fmt)) == generic_bytes(table, fmt)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_empty_long_export_is_the_header_or_an_empty_array(db, fmt):
    study = build_study("empty").study
    table = exports.long_table(study, exports.ParticipantFilter(status=Participant.Status.RETURNED))
    assert b"".join(table.chunks(fmt)) == generic_bytes(table, fmt) == (
        b"[]" if fmt == "json" else (",".join(table.header) + "\r\n").encode()
    )


def test_the_api_streams_the_long_writers_bytes(db, admin_user):
    built = build_study()
    awkward_cells(built.study)
    client = Client()
    client.force_login(admin_user)
    table = exports.long_table(built.study, exports.ParticipantFilter())
    for fmt in ("csv", "json"):
        response = client.get(f"/api/v1/studies/{built.study.slug}/responses/", {"format": fmt})
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == generic_bytes(table, fmt)


@pytest.mark.parametrize("read_all", [True, False])
def test_the_long_export_leaves_no_transaction_open(transactional_db, read_all, monkeypatch):
    """It reads in a transaction of its own (cursors without hold), ended when the download ends or is
    dropped part-way: the connection is in autocommit again either way."""
    study = build_study("tx").study
    monkeypatch.setattr(exports, "BATCH_ROWS", 3)
    response = exports.streaming_response(
        exports.long_table(study, exports.ParticipantFilter()), study, "csv"
    )
    chunks = iter(response.streaming_content)
    next(chunks)  # the header
    next(chunks)  # rows: the transaction is open
    assert connection.in_atomic_block
    if read_all:
        list(chunks)
    response.close()
    assert not connection.in_atomic_block and connection.get_autocommit()
    assert Participant.objects.filter(study=study).exists()
