"""Participant pages and the researchers' study monitor. The logic lives in allocation and services.

A participant's pages are in their language (studyapp.languages), activated for that request only; the
400 and 500 pages are in the browser's; the monitor and the preview's first page stay in English.
"""

import functools
import logging
import re
import time
import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.views import defaults
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from . import (
    access,
    allocation,
    binding,
    content,
    languages,
    monitoring,
    pages,
    pilot,
    prolific_sync,
    services,
    test_runs,
)
from .forms import (
    NONE_OF_THESE,
    JudgementForm,
    LikertPageForm,
    StepMarkForm,
    likert_html,
    numbered_steps,
    paradata_from,
    reading_from,
    viewport_from,
)
from .lookup import participant_for_page
from .models import Participant, Pilot, Study, TrialTask, platform_languages
from .rendering import facts_html, render_trace, trace_steps
from .study_setup import answer_warnings, readiness_problems

logger = logging.getLogger(__name__)

MONITOR_REFRESH_S = 30
PROLIFIC_PID = re.compile(r"^[0-9a-f]{24}$")
PROLIFIC_OTHER_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: how long a process keeps a study's measured duration estimate (the consent page's)
ESTIMATE_KEPT_S = 60.0
#: names, on a 200 page, why an arrival was not taken (see docs/operations/production.md)
STUDY_STATUS_HEADER = "X-Study-Status"


_STAND_IN_TOKEN = uuid.UUID(int=0)
_PLAIN_PAGE = re.compile(r"[A-Za-z0-9_-]+")


@functools.cache
def _page_url_form(prefix: str, urlconf: str) -> str:
    """A participant page's URL as a format string ({0} the slug, {1} the token, {2} the page), reversed
    once per script prefix and URLconf: reverse() took about 40 us, and every participant page asks for
    one."""
    url = reverse("studyapp:page", urlconf=urlconf,
                  kwargs={"slug": "slug-stand-in", "token": _STAND_IN_TOKEN, "page": "page-stand-in"})
    return (url.replace("{", "{{").replace("}", "}}").replace("slug-stand-in", "{0}")
            .replace(str(_STAND_IN_TOKEN), "{1}").replace("page-stand-in", "{2}"))


def page_url(participant: Participant, page: str) -> str:
    """reverse()'s URL of one of the participant's pages (slugs and tokens need no quoting, nor do the
    pages' names; a name that would goes through reverse())."""
    if not _PLAIN_PAGE.fullmatch(page):
        return reverse("studyapp:page",
                       kwargs={"slug": participant.study.slug, "token": participant.token, "page": page})
    form = _page_url_form(get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
    return form.format(participant.study.slug, participant.token, page)


def redirect_to_current(participant: Participant) -> HttpResponse:
    return redirect(page_url(participant, services.current_page(participant)))


def _bound_redirect(participant: Participant) -> HttpResponse:
    """To the participant's current page, naming them in this browser."""
    return binding.bind(redirect_to_current(participant), participant)


# study id -> (created_at, monotonic time it expires, minutes): measured estimates only
_estimates: dict[int, tuple[datetime, float, int]] = {}


def _duration_estimate(study: Study) -> tuple[int, bool]:
    """services.estimated_minutes, a measured estimate kept ESTIMATE_KEPT_S in this process: it reads
    every completed participant's times, on every consent page, for a median that moves by a minute over
    many completions. Until it is measured the study's own figure is read again each time, so the
    measured one is shown as soon as enough have completed."""
    now = time.monotonic()
    kept = _estimates.get(study.pk)
    if kept is not None and kept[0] == study.created_at and kept[1] > now:
        return kept[2], True
    minutes, measured = services.estimated_minutes(study)
    if measured:
        _estimates[study.pk] = (study.created_at, now + ESTIMATE_KEPT_S, minutes)
    return minutes, measured


def _not_taken(request: HttpRequest, study: Study, template: str, status: str) -> HttpResponse:
    """A page telling an arrival that the study takes nobody now (full, or not open). It answers 200, as a
    proxy or a browser may replace an error status's page with its own and monitoring would count a
    participant's ordinary outcome as a server fault; the header tells it apart from an entry."""
    response = render(request, template, {"study": study})
    response[STUDY_STATUS_HEADER] = status
    return response


def _not_yours(request: HttpRequest, study: Study) -> HttpResponse:
    """A page or link that belongs to another browser or submission: nothing of theirs is shown."""
    return render(request, "studyapp/not_yours.html", {"study": study}, status=403)


@require_http_methods(["GET"])
def home(request: HttpRequest) -> HttpResponse:
    """Where someone lands without a study link: participants are sent to Prolific, staff see studies."""
    studies = access.studies_for(request.user, access.VIEW) if request.user.is_staff else Study.objects.none()
    return render(request, "home.html", {"studies": studies})


@require_http_methods(["GET"])
def entry(request: HttpRequest, slug: str) -> HttpResponse:
    """The Prolific study link: validate the IDs, then assign (or resume) and go to the right page.

    A returning PROLIFIC_PID resumes only with its own STUDY_ID and SESSION_ID; a new one is
    rate-limited per client address (ARRIVAL_RATE_LIMIT). A new one gets the language the link or the
    browser asks for among the study's (languages.for_arrival), which every page shown here is in too."""
    study = get_object_or_404(Study, slug=slug)
    language = languages.for_arrival(study, request)
    with translation.override(language):
        return _entry(request, study, language)


def _entry(request: HttpRequest, study: Study, language: str) -> HttpResponse:
    pid = request.GET.get("PROLIFIC_PID", "").strip().lower()
    study_id = request.GET.get("STUDY_ID", "").strip()
    session_id = request.GET.get("SESSION_ID", "").strip()
    if not PROLIFIC_PID.match(pid) or not (
        PROLIFIC_OTHER_ID.match(study_id) and PROLIFIC_OTHER_ID.match(session_id)
    ):
        return render(request, "studyapp/invalid_link.html", {"study": study}, status=400)
    if study.prolific_study_id and study_id != study.prolific_study_id:
        context = {"study": study, "wrong_study": True}
        return render(request, "studyapp/invalid_link.html", context, status=400)
    existing = Participant.objects.filter(study=study, prolific_pid=pid).first()
    if existing is None and is_ratelimited(
        request, group="arrivals", key="ip", rate=settings.ARRIVAL_RATE_LIMIT, increment=True
    ):
        return render(request, "studyapp/too_many.html", {"study": study}, status=429)
    test_run = existing is None and test_runs.is_test_arrival(study, pid, request.user)
    door = prolific_sync.DoorCheck()
    if existing is None and not test_run:
        door = prolific_sync.check_arrival(study, pid, session_id)
        if door.problem:
            context = {"study": study, "prolific_problem": door.in_words()}
            return render(request, "studyapp/invalid_link.html", context, status=403)
    try:
        agent = request.headers.get("User-Agent", "")
        participant = existing or allocation.assign_new(
            study, pid, study_id, session_id, device_class=binding.device_class(agent), user_agent=agent,
            verified=door.verified, test_run=test_run, language=language,
        )
    except allocation.StudyFull:
        return _not_taken(request, study, "studyapp/full.html", "full")
    except allocation.StudyNotOpen:
        return _not_taken(request, study, "studyapp/not_open.html", "not-open")
    except allocation.StudyNotReady:
        logger.exception("Study %s is live but not ready for participants", study.slug)
        return _not_taken(request, study, "studyapp/not_open.html", "not-open")
    if not binding.same_link(participant, study_id, session_id):
        return _not_yours(request, study)
    return _bound_redirect(participant)


@staff_member_required
@require_http_methods(["GET"])
def preview(request: HttpRequest, slug: str) -> HttpResponse:
    """A researcher's run through the study, which never counts: between participants in a chosen
    condition; within participants as a participant would (each trial in its own condition: any condition
    asked for is ignored). ``?pilot=<run>``: a bot of a running pilot run (``pilot``)."""
    study = access.study_or_404(request.user, slug, access.VIEW)
    within = study.design == Study.Design.WITHIN
    if "pilot" in request.GET:
        return _start_pilot_bot(request, study, request.GET["pilot"])
    code = request.GET.get("condition")
    if code is None and not (within and "start" in request.GET):
        return _preview_choice(request, study)
    if not within and not study.conditions.filter(code=code).exists():
        return _preview_choice(request, study, f"No condition '{code}'.")
    try:
        participant = allocation.start_preview(study, None if within else code,
                                               language=languages.for_arrival(study, request))
    except allocation.StudyNotReady as problem:
        return _preview_choice(request, study, str(problem))
    return _bound_redirect(participant)


def _preview_choice(request: HttpRequest, study: Study, error: str = "") -> HttpResponse:
    """The preview's first page: the conditions to choose from (between), or what a preview shows (within),
    and the languages the study offers (a preview reads the one its link's lang names, as an arrival
    does); with an error, a 400."""
    names = platform_languages()
    context = {"study": study, "conditions": study.conditions.all(), "error": error,
               "within": study.design == Study.Design.WITHIN,
               "lang": request.GET.get(languages.LINK_PARAMETER, ""),
               "languages": [(code, names[code]) for code in languages.offered(study)]}
    return render(request, "studyapp/preview_choose.html", context, status=400 if error else 200)


def _start_pilot_bot(request: HttpRequest, study: Study, run: str) -> HttpResponse:
    """A pilot bot arrives: it takes a place among its run's bots, or finds the study full as a participant
    would once the run's bots hold every place."""
    running = Pilot.objects.filter(study=study, status=Pilot.Status.RUNNING)
    bots_run = running.filter(pk=int(run)).first() if run.isdigit() else None
    if bots_run is None:
        return _preview_choice(request, study, f"No pilot run '{run}' is running on this study.")
    try:
        participant = allocation.start_pilot_bot(study, bots_run)
    except allocation.StudyFull:
        return _not_taken(request, study, "studyapp/full.html", "full")
    except allocation.StudyNotReady as problem:
        return _preview_choice(request, study, str(problem))
    return _bound_redirect(participant)


@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, slug: str, token: uuid.UUID, page: str) -> HttpResponse:
    """A participant's page, shown or submitted, in their language. A trial whose text is gone (deleted
    past the guards) gets a page saying so, never a server error; the monitor names the missing text."""
    # _page activates the participant's language once it has read them; leaving this block restores
    # the language before, so it lasts this request only (the page below included)
    with translation.override(settings.LANGUAGE_CODE):
        try:
            return _page(request, slug, token, page)
        except content.TextMissing as missing:
            logger.error("A participant's trial cannot be shown: %s", missing)
            return render(request, "studyapp/cannot_show.html", {"study": missing.study}, status=503)


def _page(request: HttpRequest, slug: str, token: uuid.UUID, page: str) -> HttpResponse:
    try:
        if request.method == "POST":
            with services.submitting(slug, token) as participant:
                _activate_language(participant)
                if not binding.is_bound(request, participant):
                    return _not_yours(request, participant.study)
                return _submit(request, participant, page)
        participant = participant_for_page(slug, token)
    except Participant.DoesNotExist:
        raise Http404("No such participant in this study.") from None
    _activate_language(participant)
    if not binding.is_bound(request, participant):
        return _not_yours(request, participant.study)
    services.time_out_if_late(participant, timezone.now())
    if page == pages.DONE:
        if services.current_page(participant) != pages.DONE:
            return redirect_to_current(participant)
        return _render_done(request, participant)
    state = services.page_state(participant, page)
    if state == "unknown":
        raise Http404("No such page in this study.")
    if state in ("ahead", "closed"):
        return redirect_to_current(participant)
    if state == "current":
        shown = services.record_page_shown(participant, page)
    else:
        shown = services.version_shown(participant, page)
    return _render_page(request, participant, page, saved=state == "saved", shown=shown)


def _activate_language(participant: Participant) -> None:
    """The participant's language, for the rest of page()'s block (the default one is already active)."""
    if participant.language != settings.LANGUAGE_CODE:
        translation.activate(participant.language)


def _submit(request: HttpRequest, participant: Participant, page: str) -> HttpResponse:
    """Validate and save one page; runs inside services.submitting(), under the participant's lock."""
    state = services.page_state(participant, page, submitting=True)
    if state == "unknown":
        raise Http404("No such page in this study.")
    if state != "current":
        return redirect_to_current(participant)
    if page == pages.CONSENT:
        choice = request.POST.get("consent")
        if choice not in ("yes", "no"):
            return _render_page(
                request, participant, page, status=400,
                error=gettext("Please choose whether you agree to take part."),
            )
        participant = services.submit_consent(
            participant, agreed=choice == "yes", viewport_width=viewport_from(request.POST)
        )
    elif page == pages.INSTRUCTIONS:
        participant = services.submit_instructions(participant)
    elif pages.is_problem_page(page):
        form = LikertPageForm(
            services.page_items(participant, page),
            stimulus_id=services.stimulus_id_for(participant, page),
            data=request.POST, language=participant.language,
        )
        judging = _judgement_form(participant, page, data=request.POST)
        marking = _step_form(participant, page, data=request.POST)
        # all, for every error at once
        valid = [form.is_valid(), judging is None or judging.is_valid(),
                 marking is None or marking.is_valid()]
        if not all(valid):
            shown = services.version_shown(participant, page)
            return _render_page(request, participant, page, form=form, judging=judging, marking=marking,
                                status=400, shown=shown)
        reading = reading_from(request.POST)
        participant = services.submit_trial(
            participant, page, form.answers(), reading=reading,
            judgement=judging.judgement() if judging is not None else None,
            paradata=paradata_from(request.POST),
            step_mark=services.StepMark(marking.steps, marking.mark) if marking is not None else None,
        )
    else:
        form = LikertPageForm(services.end_items(participant), with_comment=True, data=request.POST,
                              language=participant.language)
        if not form.is_valid():
            return _render_page(request, participant, page, form=form, status=400)
        participant = services.submit_questionnaire(
            participant, form.answers(), form.cleaned_data["comment"], paradata=paradata_from(request.POST)
        )
    services.time_out_if_late(participant, timezone.now())
    return redirect_to_current(participant)


def _step_form(participant: Participant, page: str, data: dict | None = None) -> StepMarkForm | None:
    """The page's step mark (services.marks_steps) over the steps of the trace shown there, else None."""
    if not services.marks_steps(participant, page):
        return None
    text = services.trial_content(participant, page, services.version_shown(participant, page)).texts.text
    return StepMarkForm(len(trace_steps(text)), data)


def _judgement_form(
    participant: Participant, page: str, data: dict | None = None, options: list[str] | None = None
) -> JudgementForm | None:
    """The page's judgement questions (services.asks_judgement), else None. `options`: the candidates as
    they were shown (a saved page); by default in the participant's order of the stimulus's candidates.
    Either way labelled in the participant's language."""
    if not services.asks_judgement(participant, page):
        return None
    task = participant.study.trial_task
    if task != TrialTask.SIMULATION:
        return JudgementForm(task, [], data=data)
    stimulus = services.judged_stimulus(participant, page)
    if options is None:
        options = services.options_shown(participant, stimulus)
    return JudgementForm(task, options, data=data,
                         labels=services.option_labels(participant, stimulus, options))


def _render_page(
    request: HttpRequest,
    participant: Participant,
    page: str,
    *,
    saved: bool = False,
    form: LikertPageForm | None = None,
    judging: JudgementForm | None = None,
    marking: StepMarkForm | None = None,
    status: int = 200,
    error: str = "",
    shown: int | None = None,
) -> HttpResponse:
    """`shown`: on a trial or the practice page, the version of the texts shown there before, if any."""
    minutes_left = services.minutes_left(participant, timezone.now())
    context = {
        "participant": participant,
        "study": participant.study,
        "page": page,
        "saved": saved,
        "error": error,
        "progress_label": services.progress_label(participant, page),
        "progress_percent": _percent_done(participant),
        "next_url": page_url(participant, services.current_page(participant)),
        "minutes_left": minutes_left,
        "time_warning": minutes_left is not None and minutes_left <= services.TIME_WARNING_MINUTES,
        "missing": [*(judging.missing_items() if judging else []),
                    *(marking.missing_items() if marking else []), *(form.missing_items() if form else [])],
    }
    trial = pages.trial_number(page)
    if page == pages.CONSENT:
        minutes, measured = _duration_estimate(participant.study)
        context.update(estimated_minutes=minutes, estimate_measured=measured)
        template = "studyapp/consent.html"
    elif page == pages.INSTRUCTIONS:
        context.update(
            trace_headings=services.trace_headings(participant), texts_vary=services.texts_vary(participant),
            answer_only_trials=services.answer_only_trials(participant),
            rating=services.rating_scales(participant), has_items=bool(participant.item_order),
        )
        template = "studyapp/instructions.html"
    elif pages.is_problem_page(page):
        trial_content = services.trial_content(participant, page, shown)
        stored = services.saved_answers(participant, trial_content.stimulus_id) if saved else None
        predict = pages.is_prediction(page)
        texts = trial_content.texts
        context.update(
            condition=services.condition_shown(participant, page),
            trial=trial or pages.predict_number(page), practice=page in (pages.PRACTICE,
                                                                            pages.PRACTICE_PREDICT),
            stimulus_id=str(trial_content.stimulus_id), texts=texts, predict=predict,  # as _percent_done
            facts_html=facts_html(tuple(texts.context_facts)),
            trace_html=render_trace(texts.masked_text if predict else texts.text),
            likert_html=form.likert_html() if form else likert_html(trial_content.items, stored,
                                                                    participant.language),
            form=form,
            has_items=bool(trial_content.items),
            **_judgement_context(participant, page, trial_content.stimulus_id, judging, saved),
        )
        context.update(_step_context(participant, page, texts.text, marking, saved))  # its trace_html too
        template = "studyapp/trial.html"
    else:
        form = form or LikertPageForm(services.end_items(participant), with_comment=True,
                                      language=participant.language)
        stored = services.saved_answers(participant, None) if saved else None
        context.update(likert_html=form.likert_html(stored), form=form)
        template = "studyapp/questionnaire.html"
    return render(request, template, context, status=status)


def _percent_done(participant: Participant) -> str:
    """The progress bar's value as digits: a number in a template goes through Django's localisation (40
    function calls each time) to give the same digits."""
    return str(round(100 * services.progress_fraction(participant)))


def _step_context(
    participant: Participant, page: str, text: str, marking: StepMarkForm | None, saved: bool
) -> dict:
    """A step-rating page's trace as numbered steps and the step question (blank, as sent back, or as
    saved); nothing on other pages."""
    if not services.marks_steps(participant, page):
        return {}
    steps = trace_steps(text)
    stored = services.saved_step_mark(participant, page) if saved else None
    return {"trace_html": numbered_steps(steps),
            "step_html": (marking or StepMarkForm(len(steps))).html(stored)}


def _judgement_context(
    participant: Participant, page: str, stimulus_id: int, judging: JudgementForm | None, saved: bool
) -> dict:
    """The judgement questions of the page (judgement_html: blank, as sent back, or as saved), and on a
    simulation study's page revealing the answer, the prediction made (shown only with the study's
    simulation_feedback)."""
    study = participant.study
    if not study.judged:
        return {}
    stored = services.saved_judgement(participant, stimulus_id) if saved or not services.asks_judgement(
        participant, page) else None
    if judging is None and services.asks_judgement(participant, page):
        judging = _judgement_form(participant, page, options=stored.options_shown if stored else None)
    context: dict = {"task": study.trial_task}
    if judging is not None:
        saved_as = services.Judgement(stored.choice, stored.confidence) if stored else None
        heading = gettext("Your prediction") if pages.is_prediction(page) else gettext("Your judgement")
        anchors = languages.shown(study, "confidence_anchors", participant.language)
        context.update(judgement_html=judging.html(anchors, saved_as), judgement_heading=heading)
    elif study.simulation_feedback and stored is not None:
        stimulus = services.judged_stimulus(participant, page)
        label = services.option_labels(participant, stimulus, [stored.choice])[0] if stored.choice else ""
        context.update(prediction=label or str(NONE_OF_THESE), prediction_matched=stored.correct)
    return context


def _render_done(request: HttpRequest, participant: Participant) -> HttpResponse:
    code = services.completion_code(participant)
    return render(
        request,
        "studyapp/done.html",
        {
            "participant": participant,
            "study": participant.study,
            "code": code,
            "return_url": services.prolific_return_url(code) if code else None,
            "progress_label": services.progress_label(participant, pages.DONE),
            "progress_percent": _percent_done(participant),
            "trials_done": services.trials_done(participant),
        },
    )


@staff_member_required
def monitor(request: HttpRequest, slug: str) -> HttpResponse:
    """Staff-only: how far each condition (within participants: the study) has filled, where the active
    participants are, how long completing takes, how often each problem was read in each condition by
    those who completed, and the latest pilot bot runs. The page reloads itself (no JavaScript)."""
    study = access.study_or_404(request.user, slug, access.VIEW)
    now = timezone.now()
    return render(
        request, "studyapp/monitor.html",
        {
            "study": study, "progress": monitoring.study_progress(study, now), "drawn_at": now,
            "median_minutes": monitoring.median_completion_minutes(study),
            "active_pages": monitoring.active_by_page(study, now),
            "paradata": monitoring.paradata_summary(study),
            "balance": monitoring.stimulus_balance(study), "refresh_seconds": MONITOR_REFRESH_S,
            "problems": readiness_problems(study) if study.status == Study.Status.LIVE else [],
            "answer_warnings": answer_warnings(study),
            "pilots": pilot.recent_pilots(study),
            "flagged": Participant.objects.real().filter(study=study).exclude(prolific_problem="")
            .only("prolific_pid", "prolific_session_id", "prolific_problem", "status")[:200],
            "test_runs": Participant.objects.filter(study=study, test_run=True).count(),
        },
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """A request Django refused to read (e.g. a form not in UTF-8): a 400 page saying so, in the browser's
    language among the platform's. No CSRF check here, unlike Django's handler, so the body is not read a
    second time."""
    return _in_browser_language(request, "400.html", 400, {"reason": str(exception or "")})


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The 404 page (an address mistyped, a participant's link cut short), in the browser's language among
    the platform's. Never the exception's text: it can name what was looked up."""
    return _in_browser_language(request, "404.html", 404)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A form whose CSRF check failed (a page open past its token, cookies blocked): 403 with what to do,
    in the browser's language, instead of Django's page for developers. Nothing was saved."""
    return _in_browser_language(request, "403_csrf.html", 403)


def _in_browser_language(request: HttpRequest, template: str, status: int, context: dict | None = None
                         ) -> HttpResponse:
    """An error page shown before a participant is known, in the browser's language among the platform's."""
    with translation.override(translation.get_language_from_request(request)):
        return render(request, template, context, status=status)


def server_error(request: HttpRequest) -> HttpResponse:
    """Django's 500 page (500.html, drawn with no context), in the browser's language among the
    platform's: a participant whose page failed is told in theirs, as far as their browser says which."""
    with translation.override(translation.get_language_from_request(request)):
        return defaults.server_error(request)
