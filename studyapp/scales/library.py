"""The library's scales, one data file each (``data/<code>.json``: the items as published, the response
format, the reverse-keyed items, the scoring, the reference, the licence and where the wording was
checked), and their scoring. Plain Python, no Django: the exports, the report and a notebook score a
participant's answers the same way, from item codes and answers alone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).with_name("data")
#: The scales, in the order the admin and the docs list them.
CODES = ("ncs6", "tia", "snail", "llm_use")
#: How a score is made from its items' answers.
MEAN = "mean"  # the mean of the answers, a reverse-keyed answer taken as points + 1 - answer
ANSWER = "answer"  # a single descriptive item: its answer as given (an ordinal category)


@dataclass(frozen=True)
class ScaleItem:
    text: str
    anchors: tuple[str, ...]  # one label per point, from 1 up
    reverse_keyed: bool
    origin: str  # its place in the published instrument: "NCS-18 item 11", "V14", "R/C3"


@dataclass(frozen=True)
class Score:
    code: str  # its column in the exports: "ncs6", "tia_reliability_competence"
    label: str
    rule: str  # MEAN or ANSWER
    items: tuple[int, ...]  # the scale's item numbers, from 1


@dataclass(frozen=True)
class Scale:
    code: str
    abbreviation: str
    name: str
    construct: str  # the items' construct; their codes are construct_1, construct_2, ...
    validated: bool  # False: descriptive items, reported one by one
    citation: str  # short, for an item's source
    reference: str
    doi: str
    licence: str
    verified_from: tuple[str, ...]
    response_format: str
    adaptations: str
    scoring: str  # the published scoring, in words
    scale_points: int
    items: tuple[ScaleItem, ...]
    scores: tuple[Score, ...]

    @property
    def item_codes(self) -> list[str]:
        return [f"{self.construct}_{n}" for n in range(1, len(self.items) + 1)]

    def score(self, answers: Mapping[str, int]) -> dict[str, float | None]:
        """Each of the scale's scores from a participant's answers (item code -> the point chosen, as
        stored); None for a score with an unanswered item, since none of the sources scores a partial
        set (prorating or imputing is the analysis's choice)."""
        codes = self.item_codes
        values = {}
        for score in self.scores:
            chosen = [answers.get(codes[n - 1]) for n in score.items]
            if None in chosen:
                values[score.code] = None
                continue
            points = [self._keyed(n, value) for n, value in zip(score.items, chosen, strict=True)]
            values[score.code] = points[0] if score.rule == ANSWER else sum(points) / len(points)
        return values

    def _keyed(self, number: int, value: int) -> int:
        item = self.items[number - 1]
        if not 1 <= value <= self.scale_points:
            raise ValueError(f"{self.item_codes[number - 1]}: {value} is not a point of its "
                             f"{self.scale_points}-point scale.")
        return self.scale_points + 1 - value if item.reverse_keyed else value


def _load(code: str) -> Scale:
    data = json.loads((DATA / f"{code}.json").read_text(encoding="utf-8"))
    items = tuple(
        ScaleItem(entry["text"], tuple(entry.get("anchors") or data["anchors"]),
                  entry.get("reverse_keyed", False), entry["origin"])
        for entry in data["items"]
    )
    scores = tuple(Score(s["code"], s["label"], s["rule"], tuple(s["items"])) for s in data["scores"])
    plain = {name: data[name] for name in (
        "code", "abbreviation", "name", "construct", "validated", "citation", "reference", "doi", "licence",
        "response_format", "adaptations", "scoring", "scale_points",
    )}
    return Scale(**plain, verified_from=tuple(data["verified_from"]), items=items, scores=scores)


SCALES: dict[str, Scale] = {code: _load(code) for code in CODES}


def scales_in(item_codes: Iterable[str]) -> list[Scale]:
    """The library's scales a study has all the items of (by their codes), in the library's order."""
    have = set(item_codes)
    return [scale for scale in SCALES.values() if have.issuperset(scale.item_codes)]


def participant_scores(answers: Mapping[str, int], item_codes: Iterable[str]) -> dict[str, float | None]:
    """A participant's covariate scores: every score of every library scale among the study's items
    (``item_codes``), from the participant's end-of-study answers (item code -> point chosen); a score
    the participant left an item of is None."""
    return {code: value for scale in scales_in(item_codes) for code, value in scale.score(answers).items()}
