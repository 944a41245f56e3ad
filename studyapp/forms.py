"""Validation of a page of Likert items: every item answered on the scale, nothing unknown, right trial;
and the reading measures and paradata a page's script sends with it. What the participant reads here
(the items, the questions, the messages) is in the active language: the participant's, on their pages."""

from collections.abc import Sequence
from functools import lru_cache

from django import forms
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, gettext_lazy

from .languages import shown
from .models import CONFIDENCE_POINTS, LIKERT_MIN, Item, TrialTask
from .services import AUTOMATION_SIGNALS, Judgement, Paradata, Reading
from .step_rating import NO_WRONG_STEP, mark_from

ITEM_PREFIX = "item-"
MAX_VISIBLE_MS = 24 * 3600 * 1000  # a day: anything longer is a broken clock, not reading
MAX_VIEWPORT = 20_000


def field_name(item: Item) -> str:
    return f"{ITEM_PREFIX}{item.code}"


def _off_scale(points: int) -> str:
    return gettext("Choose one of the points %(low)s to %(high)s.") % {"low": LIKERT_MIN, "high": points}


@lru_cache(maxsize=64)
def _likert_field(points: int, language: str) -> forms.IntegerField:
    """An item's field, its error messages in `language` (the active one, passed to key the cache).

    A range check is all a radio's value needs (the page draws the radios itself). One field serves every
    item of a scale in a language: a field keeps nothing of a page (the form holds its data and errors),
    and making one per item on every page submitted cost 40 function calls an item."""
    off_scale = _off_scale(points)
    return forms.IntegerField(min_value=LIKERT_MIN, max_value=points, error_messages={
        "required": gettext("Please choose an answer for this statement."), "invalid": off_scale,
        "min_value": off_scale, "max_value": off_scale})


@lru_cache(maxsize=64)
def _stimulus_field(language: str) -> forms.IntegerField:
    """A trial page's problem, shared as _likert_field is."""
    return forms.IntegerField(widget=forms.HiddenInput, error_messages={
        "required": gettext("The page was sent without its problem; please reload it.")})


class LikertPageForm(forms.Form):
    """Answers to one page's items, shown in `language` (by default the active one). `stimulus_id` (trial
    pages) must match the trial's stimulus."""

    def __init__(
        self,
        items: list[Item],
        *,
        stimulus_id: int | None = None,
        with_comment: bool = False,
        data: dict | None = None,
        language: str | None = None,
    ) -> None:
        super().__init__(data=data)
        self.items = items
        self.language = language
        self.expected_stimulus_id = stimulus_id
        active = get_language()
        for item in items:
            self.fields[field_name(item)] = _likert_field(item.scale_points, active)
        if stimulus_id is not None:
            self.fields["stimulus"] = _stimulus_field(active)
        if with_comment:
            self.fields["comment"] = forms.CharField(
                required=False, max_length=5000, widget=forms.Textarea,
                label=gettext("Any comments on the study? (optional)"),
            )

    def clean_stimulus(self) -> int:
        value = self.cleaned_data["stimulus"]
        if value != self.expected_stimulus_id:
            raise forms.ValidationError(gettext(
                "These answers are about a problem that is not this trial of yours. "
                "Please reload the page and answer again."
            ))
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        unknown = sorted(k for k in (self.data or {}) if k.startswith(ITEM_PREFIX) and k not in self.fields)
        if unknown:
            names = ", ".join(k.removeprefix(ITEM_PREFIX) for k in unknown)
            raise forms.ValidationError(
                gettext("The page sent answers to items it does not have: %(names)s.") % {"names": names})
        return cleaned

    def answers(self) -> dict[str, int]:
        """Item code → value; call only after is_valid()."""
        return {item.code: self.cleaned_data[field_name(item)] for item in self.items}

    def missing_items(self) -> list[tuple[str, str]]:
        """(fieldset id, statement) of every item sent back with an error, for the error summary."""
        names = [field_name(item) for item in self.items]
        return [(f"field-{name}", shown(item, "text", self.language))
                for name, item in zip(names, self.items, strict=True) if name in self.errors]

    def likert_html(self, saved: dict[str, int] | None = None) -> SafeString:
        """The items checked as submitted, with their errors (a bound form), else as likert_html()."""
        if not self.is_bound:
            return likert_html(self.items, saved, self.language)
        return mark_safe("".join(  # noqa: S308 - every part is built by format_html
            _render_fieldset(
                field_name(item), shown(item, "text", self.language), shown(item, "anchors", self.language),
                str(self.data.get(field_name(item), "")), list(self.errors.get(field_name(item), [])),
                disabled=False,
            )
            for item in self.items
        ))


def likert_html(
    items: list[Item], saved: dict[str, int] | None = None, language: str | None = None
) -> SafeString:
    """The items as fieldsets of native radios, in `language` (by default the active one): blank, or as
    saved (going back, then read-only). Built here rather than in a template loop: a trial page has dozens
    of options, and the loop was most of the page's rendering time. No form is needed to show a page."""
    texts = [(item, shown(item, "text", language), shown(item, "anchors", language)) for item in items]
    if saved is None:
        parts = (_blank_fieldset(item.code, text, tuple(anchors)) for item, text, anchors in texts)
    else:
        parts = (
            _render_fieldset(field_name(item), text, anchors, str(saved.get(item.code, "")), [],
                             disabled=True)
            for item, text, anchors in texts
        )
    return mark_safe("".join(parts))  # noqa: S308 - every part is built by format_html


@lru_cache(maxsize=4096)
def _blank_fieldset(code: str, text: str, anchors: tuple[str, ...]) -> str:
    """An item as most pages show it (nothing chosen yet), the same for every participant: cached."""
    return _render_fieldset(f"{ITEM_PREFIX}{code}", text, anchors, "", [], disabled=False)


def _render_fieldset(
    name: str, text: str, anchors: Sequence[str], chosen: str, errors: list[str], *, disabled: bool
) -> str:
    input_attrs = " disabled" if disabled else " required"
    if errors:
        input_attrs += f' aria-describedby="{escape(name)}-error"'
    attrs = mark_safe(input_attrs)  # noqa: S308 - built from literals and an escaped name
    options = format_html_join(
        "",
        '<label class="likert-option"><input type="radio" name="{}" value="{}"{}{}>'
        "<span>{}</span></label>",
        (
            (name, value, " checked" if str(value) == chosen else "", attrs, label)
            for value, label in enumerate(anchors, start=LIKERT_MIN)
        ),
    )
    return format_html(
        '<fieldset id="field-{}" class="likert{}"{}><legend>{}</legend>{}'
        '<div class="likert-options points-{}">{}</div></fieldset>',
        name,
        " has-error" if errors else "",
        mark_safe(' aria-invalid="true"') if errors else "",
        text,
        format_html_join("", '<p class="field-error" id="{}-error">{}</p>', ((name, m) for m in errors)),
        len(anchors),
        options,
    )


def _whole_number(value: object, high: int) -> int | None:
    try:
        number = round(float(str(value)))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= high else None


def _posted_whole_number(data: dict, name: str, high: int) -> int | None:
    """A hidden field a page's script fills in: empty (no JavaScript) or out of range gives None."""
    value = data.get(name, "")
    return _whole_number(value, high) if value != "" else None


def reading_from(data: dict) -> Reading:
    """What a trial page's script measured (hidden fields; empty without JavaScript). A value that is
    not a number in range is dropped, never an error: the answers are what the page is for. A time
    at which the end was first seen counts only when the end is reported seen."""
    end_seen = {"1": True, "0": False}.get(data.get("trace_end_seen", ""))
    first_seen_ms = _posted_whole_number(data, "trace_end_first_seen_ms", MAX_VISIBLE_MS)
    return Reading(
        visible_ms=_posted_whole_number(data, "trace_visible_ms", MAX_VISIBLE_MS),
        end_seen=end_seen,
        end_first_seen_ms=first_seen_ms if end_seen else None,
        end_visible_ms=_posted_whole_number(data, "trace_end_visible_ms", MAX_VISIBLE_MS),
    )


MAX_EVENTS = 1_000_000  # presses, pastes or times away on one page: more is a broken script


def paradata_from(data: dict) -> Paradata:
    """What a page's script counted of the participant's activity (hidden fields; empty without
    JavaScript). Kept only when the script marked them as its own (``paradata=1``: a page posted by an
    older copy of the form or by hand says nothing). As with the reading measures, a value out of range
    is dropped, never an error; an automation signal outside AUTOMATION_SIGNALS is ignored."""
    if data.get("paradata") != "1":
        return Paradata()
    signals = tuple(sorted({word for word in data.get("automation_signals", "").split(";")
                            if word in AUTOMATION_SIGNALS}))
    return Paradata(
        away_count=_posted_whole_number(data, "away_count", MAX_EVENTS),
        away_ms=_posted_whole_number(data, "away_ms", MAX_VISIBLE_MS),
        paste_count=_posted_whole_number(data, "paste_count", MAX_EVENTS),
        copy_count=_posted_whole_number(data, "copy_count", MAX_EVENTS),
        key_count=_posted_whole_number(data, "key_count", MAX_EVENTS),
        pointer_count=_posted_whole_number(data, "pointer_count", MAX_EVENTS),
        automation_signals=signals,
    )


def viewport_from(data: dict) -> int | None:
    """The viewport width the consent page's script sent (CSS px), if any."""
    return _posted_whole_number(data, "viewport_width", MAX_VIEWPORT)


VERIFY_QUESTION = gettext_lazy("Is the model's answer correct?")
PREDICT_QUESTION = gettext_lazy("Which answer will the model give?")
CONFIDENCE_QUESTION = gettext_lazy("How confident are you in your answer?")
NONE_OF_THESE = gettext_lazy("None of these")
_CHOICE_FIELD = {TrialTask.VERIFICATION: "judgement", TrialTask.SIMULATION: "prediction"}


class JudgementForm(forms.Form):
    """A trial's judgement: verification, yes or no; simulation, one of the candidates in the order shown
    (sent as its position from 1; 0 is "none of these"); then the confidence, 1..5. ``choice_ms`` (the
    page's script) is dropped when it is not a whole number of ms up to a day, as the reading measures are.
    `options` are the candidates as written (what is stored and scored), `labels` how they read in the
    participant's language (by default as written)."""

    def __init__(self, task: str, options: list[str], data: dict | None = None,
                 labels: list[str] | None = None) -> None:
        super().__init__(data=data)
        self.task = task
        self.options = options
        self.labels = labels or options
        self.choice_name = _CHOICE_FIELD[task]
        verification = task == TrialTask.VERIFICATION
        values = ["yes", "no"] if verification else [str(n) for n in range(len(options) + 1)]
        required = (gettext("Please answer whether the model's answer is correct.") if verification
                    else gettext("Please choose which answer you think the model will give."))
        self.fields[self.choice_name] = forms.ChoiceField(
            choices=[(v, v) for v in values],
            error_messages={"required": required,
                            "invalid_choice": gettext("Choose one of the answers offered.")},
        )
        off_scale = _off_scale(CONFIDENCE_POINTS)
        self.fields["confidence"] = forms.IntegerField(
            min_value=1, max_value=CONFIDENCE_POINTS,
            error_messages={"required": gettext("Please say how confident you are."), "invalid": off_scale,
                            "min_value": off_scale, "max_value": off_scale},
        )

    @property
    def question(self) -> str:
        return VERIFY_QUESTION if self.task == TrialTask.VERIFICATION else PREDICT_QUESTION

    def judgement(self) -> Judgement:
        """The judgement sent; call only after is_valid()."""
        value = self.cleaned_data[self.choice_name]
        choice = value if self.task == TrialTask.VERIFICATION else (
            self.options[int(value) - 1] if value != "0" else "")
        return Judgement(choice, self.cleaned_data["confidence"],
                         _posted_whole_number(self.data, "choice_ms", MAX_VISIBLE_MS))

    def missing_items(self) -> list[tuple[str, str]]:
        """(fieldset id, question) of each question sent back with an error, for the error summary."""
        asked = [(self.choice_name, self.question), ("confidence", CONFIDENCE_QUESTION)]
        return [(f"field-{name}", question) for name, question in asked if name in self.errors]

    def html(self, anchors: list[str], saved: Judgement | None = None) -> SafeString:
        """The two questions as fieldsets of native radios: as sent back (a bound form, with its errors),
        as saved (read-only), or blank."""
        if self.is_bound:
            chosen = str(self.data.get(self.choice_name, ""))
            confidence = str(self.data.get("confidence", ""))
        elif saved is not None:
            chosen = saved.choice if self.task == TrialTask.VERIFICATION else str(
                self.options.index(saved.choice) + 1 if saved.choice in self.options else 0)
            confidence = str(saved.confidence)
        else:
            chosen = confidence = ""
        disabled = saved is not None
        return mark_safe(  # noqa: S308 - every part is built by format_html
            self._choice_fieldset(chosen, list(self.errors.get(self.choice_name, [])), disabled=disabled)
            + _render_fieldset("confidence", CONFIDENCE_QUESTION, anchors, confidence,
                               list(self.errors.get("confidence", [])), disabled=disabled)
        )

    def _choice_fieldset(self, chosen: str, errors: list[str], *, disabled: bool) -> str:
        if self.task == TrialTask.VERIFICATION:
            offered = [("yes", gettext("Yes, it is correct")), ("no", gettext("No, it is not correct"))]
        else:
            offered = [(str(n), label) for n, label in enumerate(self.labels, start=1)]
            offered.append(("0", NONE_OF_THESE))
        return choice_fieldset(self.choice_name, self.question, offered, chosen, errors, disabled=disabled)


def choice_fieldset(name: str, question: str, offered: list[tuple[str, str]], chosen: str, errors: list[str],
                    *, disabled: bool, kind: str = "judgement") -> SafeString:
    """A question as a fieldset of native radios (value, label): the chosen one checked, its errors
    linked for screen readers, read-only when ``disabled``."""
    attrs = " disabled" if disabled else " required"
    if errors:
        attrs += f' aria-describedby="{escape(name)}-error"'
    options = format_html_join(
        "", '<label class="choice"><input type="radio" name="{}" value="{}"{}{}> {}</label>',
        ((name, value, " checked" if value == chosen else "", mark_safe(attrs), label)  # noqa: S308
         for value, label in offered),
    )
    return format_html(
        '<fieldset id="field-{}" class="{}{}"{}><legend>{}</legend>{}<div class="choices">{}</div>'
        "</fieldset>",
        name, kind, " has-error" if errors else "", mark_safe(' aria-invalid="true"') if errors else "",
        question,
        format_html_join("", '<p class="field-error" id="{}-error">{}</p>', ((name, m) for m in errors)),
        options,
    )


STEP_FIELD = "first_wrong_step"
STEP_QUESTION = gettext_lazy("Which step of the text is the first one that is wrong?")


def step_label(number: int) -> str:
    """A step's name as the trace and the step question show it."""
    return gettext("Step %(number)s") % {"number": number}


class StepMarkForm:
    """A trial's step mark (the study's step_rating): the first wrong step of the trace shown, one of its
    ``steps``, or none (0). Sent back with an error when missing or not one of those."""

    def __init__(self, steps: int, data: dict | None = None) -> None:
        self.steps, self.data = steps, data
        self.mark = None if data is None else mark_from(str(data.get(STEP_FIELD, "")), steps)

    def is_valid(self) -> bool:
        return self.mark is not None

    def missing_items(self) -> list[tuple[str, str]]:
        """(fieldset id, question) when sent back, for the error summary."""
        return [] if self.data is None or self.is_valid() else [(f"field-{STEP_FIELD}", str(STEP_QUESTION))]

    def html(self, saved: int | None = None) -> SafeString:
        """The question as native radios, Step 1 … Step n then none: as sent back (with its error), as
        saved (read-only), or blank."""
        chosen = str(self.data.get(STEP_FIELD, "")) if self.data is not None else (
            "" if saved is None else str(saved))
        errors = [gettext("Please choose the first wrong step, or that none is wrong.")] if (
            self.data is not None and not self.is_valid()) else []
        offered = [(str(n), step_label(n)) for n in range(1, self.steps + 1)]
        offered.append((str(NO_WRONG_STEP), gettext("None: every step is right")))
        return choice_fieldset(STEP_FIELD, STEP_QUESTION, offered, chosen, errors, disabled=saved is not None,
                               kind="judgement step-mark")


def numbered_steps(steps: Sequence[SafeString]) -> SafeString:
    """A trace's steps (rendering.trace_steps) as a numbered list, each headed "Step n", for a step mark."""
    return format_html('<ol class="trace-steps">{}</ol>', format_html_join(
        "", '<li id="step-{}"><p class="step-label">{}</p>{}</li>',
        ((n, step_label(n), step) for n, step in enumerate(steps, start=1)),
    ))
