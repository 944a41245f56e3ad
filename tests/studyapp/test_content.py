"""The per-process copy of a study's items and traces: an edit is seen by the very next page."""

from studyapp import content
from studyapp.models import Item, PageVisit, Response, StimulusTrace, Study


def test_an_item_edited_in_a_live_study_shows_on_the_next_page(walker):
    walker.complete()  # fills this process's copy of the study's items
    item = Item.objects.get(study=walker.study, code="predictability_1")
    assert item.text.encode() in walker.get("trial-1").content

    item.text = "I could tell in advance what this text would say next."
    item.save()

    assert b"I could tell in advance what this text would say next." in walker.get("trial-1").content


def test_a_trace_edited_in_a_live_study_shows_on_the_next_page_that_shows_it(walker):
    walker.arrive()
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    p = walker.participant
    trace = StimulusTrace.objects.get(stimulus_id=p.stimulus_sequence[1], condition=p.condition.code)
    assert content.version(p.study, trace.stimulus_id, trace.condition).text == trace.text  # now cached

    trace.text = "A corrected trace."
    trace.save()

    walker.post("trial-1", walker.answers_for("trial-1"))
    assert b"A corrected trace." in walker.last.content and b"Problem 2" in walker.last.content


def test_saving_a_study_from_an_older_copy_never_rolls_its_content_version_back(study):
    stale = Study.objects.get(pk=study.pk)
    Item.objects.filter(study=study).first().save()  # an edit elsewhere bumps the version
    bumped = Study.objects.get(pk=study.pk).content_version
    assert bumped > stale.content_version

    stale.title = "Renamed"
    stale.save()

    fresh = Study.objects.get(pk=study.pk)
    assert fresh.title == "Renamed" and fresh.content_version == bumped


def test_time_on_page_is_the_server_time_from_first_shown_to_submitted(walker):
    walker.complete()
    p = walker.participant
    for visit in PageVisit.objects.filter(participant=p, stimulus__isnull=False):
        expected = round((visit.submitted_at - visit.first_shown_at).total_seconds() * 1000)
        times = set(Response.objects.filter(participant=p, stimulus=visit.stimulus).values_list(
            "time_on_page_ms", flat=True
        ))
        assert times == {expected}
