"""Which language a participant reads a study in, and the study's own texts in that language.

A study offers one or more of the platform's languages (``Study.languages``); its own texts are written
in the first, and each other one needs every text participants read translated (the ``translations``
of the study and of its conditions, items, stimuli and texts), which ``missing_translations`` checks
before the study goes live. A participant's language is chosen once, at arrival (``for_arrival``: the
study link's ``lang``, else the browser's, else the study's own), stored on them and activated for
each of their pages by the participant views, so nobody changes language part-way. The platform's own
words come from Django's catalogs (``locale/<code>/LC_MESSAGES``), and so does a default text a study
keeps (the default consent text, the default questionnaire), which the catalogs translate too.
"""

from functools import cache, lru_cache

from django.http import HttpRequest
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from .models import (
    DEFAULT_CONFIDENCE_ANCHORS,
    DEFAULT_CONSENT_TEXT,
    DEFAULT_DEBRIEFING_TEXT,
    DEFAULT_TRACE_HEADING,
    DEFAULT_WITHDRAWAL_TEXT,
    DEFAULT_WITHIN_DEBRIEFING_TEXT,
    Study,
    TraceKind,
    TranslatedModel,
    TrialTask,
    platform_languages,
)
from .questionnaire import AGREEMENT, DEFAULT_ITEMS, DEMAND

#: The study link's parameter naming the participant's language (Prolific passes none of its own).
LINK_PARAMETER = "lang"
#: The language the platform's own words are written in: the catalogs' message ids.
SOURCE_LANGUAGE = "en"


def offered(study: Study) -> list[str]:
    """The languages the study offers that the platform has, its own first; never empty."""
    names = platform_languages()
    codes = study.languages if isinstance(study.languages, list) else []
    return [code for code in codes if code in names] or [study.own_language]


def choose(languages: list[str], requested: str, accept_language: str) -> str:
    """The one of `languages` (the study's, its own first) a participant reads: the one the link asks for
    (`requested`: "de", or "de-AT" for de), else the first of the browser's preferences (its
    Accept-Language header) that the study offers, else the study's own."""
    for tag in (requested, *(tag for tag, _ in parse_accept_lang_header(accept_language))):
        tag = tag.strip().lower()
        for code in (tag, tag.split("-")[0]):
            if code in languages:
                return code
    return languages[0]


def for_arrival(study: Study, request: HttpRequest) -> str:
    """The language for someone arriving through the study link (choose)."""
    return choose(offered(study), request.GET.get(LINK_PARAMETER, ""),
                  request.headers.get("Accept-Language", ""))


@cache
def platform_texts() -> frozenset[str]:
    """The platform's default texts a study may keep (marked with gettext_noop where they are defined):
    the catalogs translate them, so a study that keeps one needs no translation of its own."""
    return frozenset({
        DEFAULT_CONSENT_TEXT, DEFAULT_WITHDRAWAL_TEXT,
        DEFAULT_DEBRIEFING_TEXT, DEFAULT_WITHIN_DEBRIEFING_TEXT,
        DEFAULT_TRACE_HEADING, *DEFAULT_CONFIDENCE_ANCHORS, *AGREEMENT, *DEMAND,
        *(item.text for item in DEFAULT_ITEMS),
    })


@lru_cache(maxsize=1024)
def _from_catalog(text: str, language: str) -> str:
    """A platform default's translation (kept: pages show the same few texts again and again)."""
    with translation.override(language):
        return translation.gettext(text)


def _is_platform_text(value: object) -> bool:
    """A platform default: one of platform_texts, or a non-empty list made only of them (anchors)."""
    defaults = platform_texts()
    if isinstance(value, list):
        return bool(value) and all(isinstance(v, str) and v in defaults for v in value)
    return isinstance(value, str) and value in defaults


def _platform_text_in(value: object, language: str) -> object:
    """A platform default in `language` from the catalogs; anything else as it is."""
    if not _is_platform_text(value):
        return value
    if isinstance(value, list):
        return [_from_catalog(v, language) for v in value]
    return _from_catalog(value, language)


def shown(row: TranslatedModel, name: str, language: str | None = None) -> object:
    """A text of a study or one of its rows as a participant reading `language` (by default the active
    one) reads it: its translation into that language, else the text as written, where a platform
    default the study kept comes in that language from the catalogs. (Called for every item of every
    page: a text with no translation and no default, most of them, is returned before the language is
    even looked up.)"""
    value = getattr(row, name)
    if not row.translations:
        if language == SOURCE_LANGUAGE or not _is_platform_text(value):
            return value
        language = language or translation.get_language()
        return value if language == SOURCE_LANGUAGE else _platform_text_in(value, language)
    language = language or translation.get_language()
    given = row.translations.get(language, {}).get(name)
    if given:
        return given
    return value if language == SOURCE_LANGUAGE else _platform_text_in(value, language)


def is_translated(row: TranslatedModel, name: str, language: str) -> bool:
    """Whether participants reading `language` read this text in it: a translation is given, there is
    nothing to translate, or it is a platform default the catalogs have in that language (their own
    language, English, included)."""
    value = getattr(row, name)
    if not value or (row.translations or {}).get(language, {}).get(name):
        return True
    if language == SOURCE_LANGUAGE:
        return _is_platform_text(value)
    return _platform_text_in(value, language) != value


def texts_read(study: Study) -> list[tuple[str, TranslatedModel, tuple[str, ...]]]:
    """Every row whose texts participants read, in words, with the names of those texts."""
    simulation = study.trial_task == TrialTask.SIMULATION
    rows: list[tuple[str, TranslatedModel, tuple[str, ...]]] = [
        ("the study", study, ("title", "consent_text", "withdrawal_text", "debriefing_text",
                              *(("confidence_anchors",) if study.judged else ()))),
    ]
    headed = study.conditions.exclude(trace_kind=TraceKind.ANSWER_ONLY).order_by("position", "code")
    rows += [(f"condition {condition.code}", condition, ("trace_heading",)) for condition in headed]
    items = study.items.order_by("position", "code")
    rows += [(f"item {item.code}", item, ("text", "anchors")) for item in items]
    candidates = ("answer_candidates",) if simulation else ()
    problem_texts = ("context_facts", "question", "model_answer", *candidates)
    trace_texts = ("text", *(("masked_text",) if simulation else ()))
    for stimulus in study.stimuli.prefetch_related("traces").order_by("code"):
        rows.append((f"stimulus {stimulus.code}", stimulus, problem_texts))
        rows += [(f"text {stimulus.code}/{trace.condition}", trace, trace_texts)
                 for trace in stimulus.traces.all()]
    return rows


def missing_translations(study: Study, limit: int = 10) -> list[str]:
    """For each language the study offers besides its own, the texts participants would read that have no
    version in it, in words a researcher can act on (one sentence per language); empty when none."""
    names = platform_languages()
    others = offered(study)[1:]
    if not others:
        return []
    rows = texts_read(study)
    problems = []
    for language in others:
        missing = [f"{what} ({', '.join(name.replace('_', ' ') for name in lacking)})"
                   for what, row, fields in rows
                   if (lacking := [name for name in fields if not is_translated(row, name, language)])]
        if missing:
            more = f"; and {len(missing) - limit} more" if len(missing) > limit else ""
            name = names[language]
            problems.append(
                f"The study offers {name} ({language}), but {len(missing)} of the rows participants read "
                f"have texts with no {name} version: {'; '.join(missing[:limit])}{more}. Give them in the "
                f"admin's {name} fields or the study file's translations.")
    return problems
