"""Participants read a study in their language: a study offered in German is walked in German, page by
page, with nothing of the platform's left in English; the language comes from the link, else the
browser, else the study, and is kept for every page; a study cannot go live offering a language its
texts lack; the study file carries the translations; and a study offering English alone is as before."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from studyapp import exports, languages, spec
from studyapp.languages import choose
from studyapp.models import Item, Participant, Response, Stimulus, Study, TraceVersion, TrialJudgement
from studyapp.study_setup import readiness_problems
from studyapp.versions import with_changes
from tests.conftest import Walker, make_study
from tests.studyapp.judged import simulation_study
from tests.studyapp.translated import PREFIX, german, offer_german

pytestmark = pytest.mark.django_db


class _Texts(HTMLParser):
    """The text a reader meets on a page: its text nodes (not scripts or styles) and the labels of
    aria-label and data-stayed (the countdown's message), each with its runs of spaces as one."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")
        self.texts += [value for name, value in attrs if name in ("aria-label", "data-stayed") and value]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self._skip:
            self.texts.append(text)


def texts(response) -> list[str]:
    parser = _Texts()
    parser.feed(response.content.decode())
    return parser.texts


#: The study's own data that no language changes: its completion code and its contact address.
STUDY_DATA = ("C-OK", "study@example.org")


def english_left(german_page, english_page) -> list[str]:
    """The German page's texts that its English counterpart has too, but for numbers, symbols and the
    study's own data: what the German participant would still read in English."""
    same = set(texts(german_page)) & set(texts(english_page))
    return sorted(t for t in same if re.search(r"[A-Za-z]{2}", t) and t not in STUDY_DATA)


def lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def arrive(client: Client, study: Study, language: str = "", accept: str = "") -> Walker:
    walker = Walker(client, study)
    entry = reverse("studyapp:entry", args=[study.slug])
    query = {**walker.link(), **({"lang": language} if language else {})}
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    walker.last = client.get(entry, query, follow=True, **headers)
    return walker


def walk_pages(walker: Walker) -> dict[str, object]:
    """Every page of a participant's walk to the end, as shown (consent, instructions, each trial, the
    final questions, the completion page), answering each; and the form errors of two pages."""
    shown = {"consent": walker.last}
    shown["consent-error"] = walker.post("consent", {})
    walker.post("consent", {"consent": "yes"})
    shown["instructions"] = walker.last
    walker.post("instructions", {})
    for n in range(1, walker.study.trials_per_participant + 1):
        shown[f"trial-{n}"] = walker.last
        walker.post(f"trial-{n}", walker.answers_for(f"trial-{n}"))
    shown["questionnaire"] = walker.last
    shown["questionnaire-error"] = walker.post("questionnaire", {"comment": ""})
    data = walker.answers_for("questionnaire")
    shown["done"] = walker.post("questionnaire", {**data, "comment": "gut"})
    return shown


@pytest.fixture
def german_study() -> Study:
    """A live study offered in English and German, with the platform's default consent texts and
    questionnaire (which the platform has in German) and its own title, problems and texts translated."""
    study = make_study("zweisprachig")
    Study.objects.filter(pk=study.pk).update(return_countdown_seconds=30, contact="study@example.org")
    return offer_german(study)


def test_a_study_walked_in_german_shows_every_page_in_german(german_study):
    """Each page of the walk, form errors and the completion page included, in German: its own texts
    translated, and none of the platform's English left (the same page in English shares only numbers
    and the completion code with it)."""
    assert readiness_problems(german_study) == []
    deutsch = walk_pages(arrive(Client(), german_study, language="de"))
    english = walk_pages(arrive(Client(), german_study))
    for page, response in deutsch.items():
        assert lang(response) == "de" and lang(english[page]) == "en", page
        assert english_left(response, english[page]) == [], page
    said = {page: " ".join(texts(response)) for page, response in deutsch.items()}
    assert "Einwilligung in die Teilnahme" in said["consent"] and "Wir laden Sie ein" in said["consent"]
    assert "Bitte wählen Sie, ob Sie mit der Teilnahme einverstanden sind." in said["consent-error"]
    assert "Jede Aussage wird auf einer fünfstufigen Skala bewertet." in said["instructions"]
    assert "einen Text mit der Überschrift Der Gedankengang des Modells und" in said["instructions"]
    assert "Aufgabe 1" in said["trial-1"] and "Durchgang 1 von 3" in said["trial-1"]
    assert f"{PREFIX}Fact" in said["trial-1"] and f"{PREFIX}Question" in said["trial-1"]
    assert "Stimme voll und ganz zu" in said["trial-2"] and "Fortschritt in der Studie" in said["trial-2"]
    assert "Bitte beantworten Sie: Insgesamt" in said["questionnaire-error"]
    done = said["done"]
    assert "Vielen Dank, Sie haben die Studie abgeschlossen" in done and "Ihr Prolific-Abschlusscode" in done
    assert "Sie bleiben auf dieser Seite." in done and "Fragen: study@example.org" in done
    assert f"{PREFIX}Study zweisprachig" in done and "Jede teilnehmende Person hat eine Art gelesen." in done


def test_what_a_german_participant_answers_is_stored_as_an_english_ones_is(german_study):
    """The language changes what is shown, never what is stored: the same answers, items and texts'
    versions, and the participant's language with them."""
    walker = arrive(Client(), german_study, language="de")
    walk_pages(walker)
    participant = walker.participant
    assert participant.language == "de" and participant.status == Participant.Status.COMPLETED
    answers = Response.objects.filter(participant=participant)
    assert answers.count() == 3 * 8 + 2 + 4 and set(answers.values_list("value", flat=True)) <= {2, 4}
    shown = participant.visits.filter(trace_version__isnull=False)
    assert shown.count() == 3 and all(v.trace_version.translations["de"]["text"].startswith(PREFIX)
                                      for v in shown.select_related("trace_version"))
    people = exports.participants_table(german_study, exports.ParticipantFilter())
    (row,) = [dict(zip(people.header, r, strict=True)) for r in people.rows()]
    assert row["language"] == "de"  # exported, and described in the codebook
    assert "language" in {c["name"] for c in exports.codebook(german_study)["columns"]["participants"]}


def test_the_language_comes_from_the_link_then_the_browser_then_the_study_and_is_kept(german_study):
    by_link = arrive(Client(), german_study, language="de", accept="en-GB,en;q=0.9")
    by_browser = arrive(Client(), german_study, accept="fr-CH, fr;q=0.9, de-AT;q=0.8, en;q=0.5")
    by_study = arrive(Client(), german_study, language="fr", accept="fr, it")
    assert [w.participant.language for w in (by_link, by_browser, by_study)] == ["de", "de", "en"]
    # the link's language is checked against the study's: one it does not offer falls to the browser
    assert arrive(Client(), german_study, language="pt", accept="de").participant.language == "de"

    # kept for every page, whatever the link or the browser says on the way back
    by_link.post("consent", {"consent": "yes"})
    again = by_link.client.get(reverse("studyapp:entry", args=[german_study.slug]),
                               {**by_link.link(), "lang": "en"}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert lang(again) == "de" and "Anleitung" in texts(again)
    assert lang(by_link.get("consent")) == "de"  # a page saved before, shown again
    assert Participant.objects.get(pk=by_link.participant.pk).language == "de"


def test_choosing_a_language_reads_regions_and_preferences():
    offered = ["en", "de"]
    assert choose(offered, "DE-at", "") == "de"
    assert choose(offered, "", "de-CH;q=0.7, fr;q=0.9, *;q=0.1") == "de"
    assert choose(offered, "", "*") == "en" and choose(offered, "", "not a header") == "en"
    assert choose(["de", "en"], "", "") == "de"  # the study's own language first


def test_a_study_offering_english_alone_is_shown_in_english_whatever_is_asked(study):
    """An existing study (the migration gives each English alone) and a new one: English pages for a
    link or a browser asking for German, and every participant stored as reading English."""
    assert study.languages == ["en"] and study.translations == {}
    walker = arrive(Client(), study, language="de", accept="de-DE,de")
    assert walker.participant.language == "en" and lang(walker.last) == "en"
    assert "Consent to take part" in texts(walker.last)
    walker.post("consent", {"consent": "yes"})
    assert "Instructions" in texts(walker.last)
    assert readiness_problems(study) == [] and languages.missing_translations(study) == []


def test_a_study_cannot_go_live_offering_german_without_its_german_consent_text():
    study = make_study("ohne", status=Study.Status.DRAFT)
    Study.objects.filter(pk=study.pk).update(consent_text="Our own consent text, in English.")
    study = offer_german(study, leave_out=("consent_text",))
    problems = languages.missing_translations(study)
    assert problems == [
        "The study offers German (de), but 1 of the rows participants read have texts with no German "
        "version: the study (consent text). Give them in the admin's German fields or the study file's "
        "translations."
    ]
    study.status = Study.Status.LIVE
    with pytest.raises(ValidationError, match=r"It cannot be live yet: .*the study \(consent text\)"):
        study.save()
    assert Study.objects.get(pk=study.pk).status == Study.Status.DRAFT

    # given, the study goes live; a default text the platform has in German needs none
    study = Study.objects.get(pk=study.pk)
    study.translations["de"]["consent_text"] = "Unser eigener Einwilligungstext."
    study.status = Study.Status.LIVE
    study.save()
    assert Study.objects.get(pk=study.pk).status == Study.Status.LIVE
    page = arrive(Client(), study, language="de").last
    assert "Unser eigener Einwilligungstext." in texts(page) and "Die Teilnahme ist freiwillig." in " ".join(
        texts(page))


def test_missing_translations_name_each_row_and_text():
    study = make_study("teils", n_stimuli=2, trials=1, status=Study.Status.DRAFT)
    Item.objects.filter(study=study, code="faithfulness_1").update(text="Our own statement.")
    Study.objects.filter(pk=study.pk).update(languages=["en", "de"])
    study.refresh_from_db()
    (problem,) = languages.missing_translations(study)
    assert "the study (title)" in problem and "item faithfulness_1 (text)" in problem
    assert "stimulus p0 (context facts, question, model answer)" in problem and "text p0/r1 (text)" in problem
    assert "item faithfulness_2" not in problem and "condition" not in problem  # the platform has those
    assert "but 12 of the rows" in problem and "; and 2 more." in problem  # 10 named


def test_translations_are_checked_as_the_rows_are():
    study = make_study("falsch", n_stimuli=1, trials=1, status=Study.Status.DRAFT)
    item = study.items.get(code="faithfulness_1")
    item.translations = {"de": {"anchors": ["eins", "zwei"], "label": "x"}, "fr": {"text": "Bonjour"},
                         "en": {"text": "Mine"}}
    with pytest.raises(ValidationError) as refused:
        item.full_clean()
    said = " ".join(refused.value.messages)
    assert "German anchors: must have as many entries as the original (5), not 2." in said
    assert "German label: not a text of this row; its texts are text, anchors." in said
    assert "This platform has no language 'fr'; it has en, de." in said
    assert "English is the study's own language" in said
    study.languages = ["en", "xx"]
    with pytest.raises(ValidationError, match="This platform has no xx"):
        study.full_clean()


def test_the_study_file_carries_the_languages_and_every_translation(german_study):
    document = spec.export_study(german_study)
    assert document["participation"]["languages"] == ["en", "de"]
    assert document["translations"] == {"de": {"title": f"{PREFIX}Study zweisprachig"}}
    first = document["stimuli"][0]
    assert first["translations"]["de"]["question"] == german(first["question"])
    assert first["texts"]["r1"]["translations"] == {"de": {"text": german(first["texts"]["r1"]["text"])}}
    assert "translations" not in document["items"][0]  # the default questionnaire: the platform's German

    copy = spec.import_study(spec.dumps(document), slug="kopie").study
    again = spec.export_study(copy)
    assert {**again, "slug": german_study.slug} == document
    assert copy.languages == ["en", "de"] and readiness_problems(copy) == []
    # each text's first version holds its German too
    version = TraceVersion.objects.filter(trace__stimulus__study=copy).first()
    assert version.number == 1 and version.translations["de"]["question"].startswith(PREFIX)


def test_a_study_file_offering_german_without_its_texts_is_refused(german_study):
    document = spec.export_study(german_study)
    del document["stimuli"][1]["texts"]["posthoc"]["translations"]
    document["items"][0]["translations"] = {"de": {"anchors": ["eins"]}}
    with pytest.raises(spec.InvalidSpec) as refused:
        spec.import_study(spec.dumps(document), slug="kopie")
    said = str(refused.value)
    assert "items[0]" in said
    assert "German anchors: must have as many entries as the original (5), not 1." in said
    del document["items"][0]["translations"]
    with pytest.raises(spec.InvalidSpec, match=r"The study could not run: .*text p1/posthoc \(text\)"):
        spec.import_study(spec.dumps(document), slug="kopie")
    document["translations"] = {"de ": {}}
    with pytest.raises(spec.InvalidSpec, match="Must be a language code such as en or de"):
        spec.import_study(spec.dumps(document), slug="kopie")
    assert not Study.objects.filter(slug="kopie").exists()


def test_a_changed_translation_is_a_new_version_and_a_page_keeps_the_one_it_showed(german_study):
    walker = arrive(Client(), german_study, language="de")
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {})
    stimulus = Stimulus.objects.get(pk=walker.participant.stimulus_sequence[0])
    shown = stimulus.translations["de"]["question"]
    assert shown in texts(walker.last)
    stimulus.translations = {"de": {**stimulus.translations["de"], "question": "Eine korrigierte Frage?"}}
    stimulus.save()
    history = TraceVersion.objects.filter(trace__stimulus=stimulus, trace__condition=walker.participant
                                          .condition.code).order_by("number")
    changes = [changed for _, changed in with_changes(history)]
    assert changes[-1] == ["question (de)"]  # the translation's own versions came first, then this one
    assert history.last().in_language("de").question == "Eine korrigierte Frage?"
    assert shown in texts(walker.get("trial-1"))  # the page shown first keeps its texts
    other = arrive(Client(), german_study, language="de")
    assert other.participant.pk != walker.participant.pk


def test_a_simulation_in_german_shows_german_candidates_and_stores_the_choice_as_written():
    study = offer_german(simulation_study("simulieren", n_stimuli=8, trials=4, target=10))
    walker = arrive(Client(), study, language="de")
    walker.post("consent", {"consent": "yes"})
    page = walker.post("instructions", {})
    said = " ".join(texts(page))
    assert "Welche Antwort wird das Modell geben?" in said and "Keine davon" in said
    stimulus = Stimulus.objects.get(pk=walker.participant.stimulus_sequence[0])
    for candidate in stimulus.answer_candidates:
        assert " ".join(german(candidate).split()) in said
    order = re.findall(r'name="prediction" value="(\d+)"', page.content.decode())
    labels = re.findall(r'name="prediction" value="\d+" required> ([^<]+)</label>', page.content.decode())
    assert len(order) == len(stimulus.answer_candidates) + 1 and all(label.startswith(PREFIX) or label ==
                                                                    "Keine davon" for label in labels)
    right = [c for c in stimulus.answer_candidates if stimulus.predicts(c)]  # none: "none of these" is right
    shown = " ".join(german(right[0]).split()) if right else "Keine davon"
    chosen = [" ".join(label.split()) for label in labels].index(shown)
    walker.post("predict-1", {"stimulus": stimulus.pk, "prediction": order[chosen], "confidence": 4})
    judgement = TrialJudgement.objects.get(participant=walker.participant, stimulus=stimulus)
    assert judgement.choice == (right[0] if right else "") and judgement.correct
    revealed = " ".join(texts(walker.last))
    assert "Aufgabe 1: die Antwort des Modells" in revealed and german(stimulus.model_answer) in revealed


def test_the_pages_that_turn_an_arrival_away_are_in_the_language_asked_for(german_study, settings):
    entry = reverse("studyapp:entry", args=[german_study.slug])
    invalid = Client().get(entry, {"lang": "de"})
    assert invalid.status_code == 400 and "Bitte öffnen Sie diese Studie über Prolific" in texts(invalid)
    Study.objects.filter(pk=german_study.pk).update(status=Study.Status.PAUSED)
    closed = arrive(Client(), german_study, accept="de").last
    assert "Diese Studie nimmt gerade keine Teilnehmenden auf" in texts(closed)
    Study.objects.filter(pk=german_study.pk).update(status=Study.Status.LIVE, target_per_condition=0)
    full = arrive(Client(), german_study, accept="de").last
    assert "Diese Studie ist voll" in texts(full)
    settings.ARRIVAL_RATE_LIMIT = "0/m"
    limited = arrive(Client(), german_study, language="de").last
    assert limited.status_code == 429
    assert "Bitte versuchen Sie es in ein paar Minuten erneut" in texts(limited)


def test_a_participant_whose_text_is_gone_or_whose_link_is_elsewhere_is_told_in_their_language(german_study):
    walker = arrive(Client(), german_study, language="de")
    walker.post("consent", {"consent": "yes"})
    walker.post("instructions", {}, follow=False)
    p = walker.participant
    trace = Stimulus.objects.get(pk=p.stimulus_sequence[0]).traces.get(condition=p.condition.code)
    with connection.cursor() as cursor:  # past every guard, as hand-written SQL would (nobody read it yet)
        cursor.execute("DELETE FROM studyapp_traceversion WHERE trace_id = %s", [trace.pk])
        cursor.execute("DELETE FROM studyapp_stimulustrace WHERE id = %s", [trace.pk])
    gone = walker.get("trial-1")
    assert gone.status_code == 503 and "Diese Aufgabe kann nicht angezeigt werden" in texts(gone)
    elsewhere = Client().get(walker.url("trial-1"))
    assert elsewhere.status_code == 403
    assert "Bitte öffnen Sie die Studie über Ihren Prolific-Link" in texts(elsewhere)


def test_a_server_error_is_told_in_the_browsers_language(settings, monkeypatch, german_study):
    settings.DEBUG = False
    browser = Client(raise_request_exception=False)
    walker = Walker(browser, german_study)
    walker.arrive()

    def database_gone(*args: object, **kwargs: object) -> None:
        raise connection.OperationalError("the database restarted")

    monkeypatch.setattr("studyapp.views.participant_for_page", database_gone)
    german = browser.get(walker.url("consent"), HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")
    assert german.status_code == 500 and lang(german) == "de"
    assert "Ihre bisherigen Antworten sind gespeichert." in " ".join(texts(german))
    english = browser.get(walker.url("consent"))
    assert "Your answers so far are saved." in " ".join(texts(english)) and lang(english) == "en"


def test_the_admin_edits_a_study_s_texts_in_german(admin_client, german_study):
    url = reverse("admin:studyapp_study_change", args=[german_study.pk])
    page = admin_client.get(url).content.decode()
    assert 'name="consent_text__de"' in page and 'name="conditions-0-trace_heading__de"' in page
    assert "German: confidence anchors" in page and 'name="consent_text__en"' not in page
    stimulus = german_study.stimuli.first()
    page = admin_client.get(reverse("admin:studyapp_stimulus_change", args=[stimulus.pk])).content.decode()
    assert 'name="question__de"' in page and 'name="traces-0-text__de"' in page
    assert json.dumps(german(stimulus.context_facts[0]))[1:-1] in page

    item = german_study.items.get(code="faithfulness_1")
    form = {"study": german_study.pk, "code": item.code, "construct": item.construct, "scope": item.scope,
            "text": item.text, "scale_points": 5, "anchors": json.dumps(item.anchors), "position": 1,
            "text__de": "Eine eigene Aussage.", "anchors__de": "eins\nzwei\n\ndrei\nvier\nfünf\n"}
    saved = admin_client.post(reverse("admin:studyapp_item_change", args=[item.pk]), form)
    assert saved.status_code == 302
    item.refresh_from_db()
    assert item.translations == {"de": {"text": "Eine eigene Aussage.",
                                        "anchors": ["eins", "zwei", "drei", "vier", "fünf"]}}
    refused = admin_client.post(reverse("admin:studyapp_item_change", args=[item.pk]),
                                {**form, "anchors__de": "eins\nzwei"})
    assert refused.status_code == 200
    assert "German anchors: must have as many entries as the original (5), not 2." in refused.content.decode()
    # emptied, the translation is gone (the platform's default in German is shown again)
    admin_client.post(reverse("admin:studyapp_item_change", args=[item.pk]),
                      {**form, "text__de": "", "anchors__de": ""})
    assert Item.objects.get(pk=item.pk).translations == {}


def test_an_arrival_prolific_turns_away_is_told_why_in_their_language(door, german_study):
    Study.objects.filter(pk=german_study.pk).update(prolific_study_id="STUDY1")
    german_study.refresh_from_db()
    returned, made_up = Walker(Client(), german_study), Walker(Client(), german_study)
    door.add("STUDY1", f"session-{returned.pid}", returned.pid, "RETURNED")
    for walker, says in ((returned, "Die Einreichung hat auf Prolific den Status „returned“."),
                         (made_up, "Zu dieser SESSION_ID gibt es auf Prolific keine Einreichung")):
        entry = reverse("studyapp:entry", args=[german_study.slug])
        response = walker.client.get(entry, {**walker.link(), "lang": "de"})
        assert response.status_code == 403 and says in " ".join(texts(response))
    assert not Participant.objects.filter(study=german_study).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_leaves_existing_studies_and_participants_in_english_alone():
    before = [("studyapp", "0016_paradata_and_protected_problem_text")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    study = old.get_model("studyapp", "Study").objects.create(
        slug="bisher", title="Before languages", completion_code="A", no_consent_code="B",
        failed_attention_code="C")
    old.get_model("studyapp", "Participant").objects.create(
        study=study, prolific_pid="a" * 24, stimulus_sequence=[], item_order=[], end_item_order=[])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    study = Study.objects.get(slug="bisher")
    assert study.languages == ["en"] and study.translations == {}
    assert languages.missing_translations(study) == []
    assert Participant.objects.get(study=study).language == "en"
