"""Validation of a page of Likert items: every item answered on the scale, nothing unknown, right trial;
and the reading measures a trial page's script sends with it."""

from collections.abc import Sequence
from functools import lru_cache

from django import forms
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .models import LIKERT_MIN, SCALE_POINTS, Item
from .services import Reading

ITEM_PREFIX = "item-"
MAX_VISIBLE_MS = 24 * 3600 * 1000  # a day: anything longer is a broken clock, not reading
MAX_VIEWPORT = 20_000


def field_name(item: Item) -> str:
    return f"{ITEM_PREFIX}{item.code}"


def _likert_errors(points: int) -> dict[str, str]:
    off_scale = f"Choose one of the points {LIKERT_MIN} to {points}."
    return {"required": "Please choose an answer for this statement.", "invalid": off_scale,
            "min_value": off_scale, "max_value": off_scale}


_LIKERT_ERRORS = {points: _likert_errors(points) for points in SCALE_POINTS}


class LikertPageForm(forms.Form):
    """Answers to one page's items. `stimulus_id` (trial pages) must match the trial's stimulus."""

    def __init__(
        self,
        items: list[Item],
        *,
        stimulus_id: int | None = None,
        with_comment: bool = False,
        data: dict | None = None,
    ) -> None:
        super().__init__(data=data)
        self.items = items
        self.expected_stimulus_id = stimulus_id
        for item in items:
            # A range check is all a radio's value needs (the page draws the radios itself); a
            # choice field re-normalised its choices for every item of every page submitted.
            self.fields[field_name(item)] = forms.IntegerField(
                min_value=LIKERT_MIN, max_value=item.scale_points,
                error_messages=_LIKERT_ERRORS[item.scale_points],
            )
        if stimulus_id is not None:
            self.fields["stimulus"] = forms.IntegerField(
                widget=forms.HiddenInput,
                error_messages={"required": "The page was sent without its problem; please reload it."},
            )
        if with_comment:
            self.fields["comment"] = forms.CharField(
                required=False, max_length=5000, widget=forms.Textarea,
                label="Any comments on the study? (optional)",
            )

    def clean_stimulus(self) -> int:
        value = self.cleaned_data["stimulus"]
        if value != self.expected_stimulus_id:
            raise forms.ValidationError(
                "These answers are about a problem that is not this trial of yours. "
                "Please reload the page and answer again."
            )
        return value

    def clean(self) -> dict:
        cleaned = super().clean()
        unknown = sorted(k for k in (self.data or {}) if k.startswith(ITEM_PREFIX) and k not in self.fields)
        if unknown:
            names = ", ".join(k.removeprefix(ITEM_PREFIX) for k in unknown)
            raise forms.ValidationError(f"The page sent answers to items it does not have: {names}.")
        return cleaned

    def answers(self) -> dict[str, int]:
        """Item code → value; call only after is_valid()."""
        return {item.code: self.cleaned_data[field_name(item)] for item in self.items}

    def missing_items(self) -> list[tuple[str, str]]:
        """(fieldset id, statement) of every item sent back with an error, for the error summary."""
        names = [field_name(item) for item in self.items]
        return [(f"field-{name}", item.text) for name, item in zip(names, self.items, strict=True)
                if name in self.errors]

    def likert_html(self, saved: dict[str, int] | None = None) -> SafeString:
        """The items checked as submitted, with their errors (a bound form), else as likert_html()."""
        if not self.is_bound:
            return likert_html(self.items, saved)
        return mark_safe("".join(  # noqa: S308 - every part is built by format_html
            _render_fieldset(
                field_name(item), item.text, item.anchors, str(self.data.get(field_name(item), "")),
                list(self.errors.get(field_name(item), [])), disabled=False,
            )
            for item in self.items
        ))


def likert_html(items: list[Item], saved: dict[str, int] | None = None) -> SafeString:
    """The items as fieldsets of native radios: blank, or as saved (going back, then read-only).
    Built here rather than in a template loop: a trial page has dozens of options, and the loop
    was most of the page's rendering time. No form is needed to show a page."""
    if saved is None:
        parts = (_blank_fieldset(item.code, item.text, tuple(item.anchors)) for item in items)
    else:
        parts = (
            _render_fieldset(
                field_name(item), item.text, item.anchors, str(saved.get(item.code, "")), [], disabled=True
            )
            for item in items
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


def viewport_from(data: dict) -> int | None:
    """The viewport width the consent page's script sent (CSS px), if any."""
    return _posted_whole_number(data, "viewport_width", MAX_VIEWPORT)
