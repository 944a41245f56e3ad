"""A library scale in a study: its items, worded as the library has them, added at the end of the
questionnaire (from the admin, or the study file's ``covariate_scales``), and the study file's part that
names the scales a study has as published. Adding is refused, changing nothing, where the study already
uses one of the scale's item codes or people have taken part (they would lack the scale's answers)."""

from __future__ import annotations

from dataclasses import fields

from django.db import transaction
from django.db.models import Max

from ..models import Item, Study
from ..questionnaire import ItemSpec
from .library import CODES, SCALES, Scale

KEY = "covariate_scales"  # the study file's key
Problem = tuple[tuple[str | int, ...], str]  # as studyapp.spec.sections has it


class ScaleRefused(ValueError):
    """The scale was not added; the message says why. Nothing was changed."""


def _not_in_library(code: str) -> str:
    return f"There is no scale '{code}' in the library; its scales are {', '.join(CODES)}."


def scale(code: str) -> Scale:
    """The library's scale ``code``; ScaleRefused, naming the library's scales, if there is none."""
    if code not in SCALES:
        raise ScaleRefused(_not_in_library(code))
    return SCALES[code]


def scale_items(code: str) -> list[ItemSpec]:
    """The scale's items as end-of-study items, coded construct_1, construct_2, ... in published order."""
    found = scale(code)
    return [
        ItemSpec(item_code, found.construct, Item.Scope.END, item.text, list(item.anchors),
                 f"{found.abbreviation} item {n} ({item.origin}), {found.citation}",
                 scale_points=found.scale_points, reverse_keyed=item.reverse_keyed)
        for n, (item_code, item) in enumerate(zip(found.item_codes, found.items, strict=True), start=1)
    ]


def _refusal(study: Study, code: str) -> str:
    """Why the scale cannot be added to the study ("" if it can)."""
    taken = study.taken_part()
    if taken:
        return (f"In {study.slug} {taken}: they would have no answers to the scale's items. Add it to a new "
                "study made from this one's file (manage.py study_spec export, then import with --slug); "
                "previews, pilot bots and test runs can be deleted in the participants' list.")
    used = sorted(set(scale(code).item_codes) & set(study.items.values_list("code", flat=True)))
    if used:
        return f"{study.slug} has items coded {', '.join(used)} already: rename or delete them first."
    return ""


@transaction.atomic
def add_scale(study: Study, code: str) -> list[Item]:
    """The scale's items, saved after the study's last item; ScaleRefused, and no change, if refused."""
    study = Study.objects.select_for_update().get(pk=study.pk)  # one addition at a time per study
    why = _refusal(study, code)
    if why:
        raise ScaleRefused(why)
    last = study.items.aggregate(last=Max("position"))["last"] or 0
    items = [spec.item(study, last + n) for n, spec in enumerate(scale_items(code), start=1)]
    for item in items:
        item.save()  # one by one: each save tells the content cache (studyapp.content)
    return items


def published_in(study: Study) -> list[Scale]:
    """The scales the study has every item of, each as the library words it, in questionnaire order:
    the study file names these instead of listing their items (a scale with an edited item is listed
    item by item, so that the edit is kept)."""
    items = {item.code: item for item in study.items.all()}
    present = []
    for found in SCALES.values():
        specs = scale_items(found.code)
        if all(spec.code in items and _same(items[spec.code], spec) for spec in specs):
            present.append((min(items[spec.code].position for spec in specs), found))
    return [found for _, found in sorted(present, key=lambda pair: pair[0])]


def _same(item: Item, spec: ItemSpec) -> bool:
    return all(getattr(item, field.name) == getattr(spec, field.name) for field in fields(ItemSpec))


# --- the study file's part -----------------------------------------------------------------------------


def export_part(study: Study) -> list[str] | None:
    """The codes of the scales the study has as published; None (the key left out) if none."""
    return [found.code for found in published_in(study)] or None


def check_part(codes: list[str], document: dict) -> list[Problem]:
    """Each code a library scale, named once, whose item codes the file's items do not use."""
    problems: list[Problem] = []
    items = {item["code"]: n for n, item in enumerate(document.get("items", []))}
    first: dict[str, int] = {}
    for n, code in enumerate(codes):
        if code not in SCALES:
            problems.append(((n,), _not_in_library(code)))
        elif code in first:
            problems.append(((n,), f"The scale '{code}' is named twice (first at {KEY}[{first[code]}])."))
        else:
            used = [f"{c} (items[{items[c]}])" for c in SCALES[code].item_codes if c in items]
            if used:
                problems.append(((n,), f"The scale '{code}' adds its own items, but the file's items use its "
                                       f"codes already: {', '.join(used)}. Leave out one or the other."))
        first.setdefault(code, n)
    return problems


def create_part(study: Study, codes: list[str]) -> list[str]:
    """The scales' items for a study being imported (the file was checked); no warnings."""
    for code in codes:
        add_scale(study, code)
    return []
