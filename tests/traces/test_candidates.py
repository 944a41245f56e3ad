"""The simulation task's answer options (traces.candidates) on hand-made problems and on every shipped one."""

from __future__ import annotations

import ast
from collections import Counter

from traces.candidates import answer_candidates
from traces.grading.parsing import short_answer

from .shipped import RELATIONS, outputs, pilot_rows, problems

FACTS = [
    "Jan Trøjborg worked for Federal Reserve Bank of New York in 2002.",
    "Jan Trøjborg holds the position of mayor from January 1, 2007 to May 6, 2012.",
    "Jan Trøjborg works for Billund Airport from January 2, 2007 to December 3, 2010.",
    "Jan Trøjborg works for NKT from March 25, 2010 to May 6, 2012.",
    "Jan Trøjborg attended Aarhus University in 1975.",
]


def test_cotempqa_offers_the_objects_of_the_relation_asked_in_the_facts_order():
    question = (
        "While Jan Trøjborg was working for Billund Airport, which employer did Jan Trøjborg work for "
        "during the same time span?"
    )
    assert answer_candidates(FACTS, question) == [
        "Federal Reserve Bank of New York",
        "Billund Airport",
        "NKT",
    ]
    question = "While Jan Trøjborg was mayor, which position did Jan Trøjborg hold at the same time?"
    assert answer_candidates(FACTS, question) == ["mayor"]


def test_who_questions_offer_subjects_and_the_first_named_relation_wins():
    facts = [
        "Ann Lee works for Johns Hopkins School of Medicine from 1990 to 1995.",
        "Bo Ek works for Johns Hopkins School of Medicine from 1991 to 1994.",
        "Ann Lee attended Yale University in 1985.",
    ]
    question = (
        "While Ann Lee was working for Johns Hopkins School of Medicine, who also worked for Johns Hopkins "
        "School of Medicine within the same time interval?"
    )
    assert answer_candidates(facts, question) == ["Ann Lee", "Bo Ek"]


def test_babi_offers_what_the_question_asks_for():
    story = [
        "Mary moved to the bedroom.",
        "Sandra took the apple there.",
        "Daniel went to the garden.",
        "Mary went back to the bedroom.",
    ]
    assert answer_candidates(story, "Where is Mary?", "babi") == ["bedroom", "garden"]
    assert answer_candidates(story, "What is Sandra carrying?", "babi") == ["apple", "nothing"]
    assert answer_candidates(story, "How many objects is Sandra carrying?", "babi") == ["none", "one"]
    assert answer_candidates(
        ["Cats are afraid of wolves.", "Winona is a cat.", "Mice are afraid of sheep."],
        "What is winona afraid of?",
        "babi",
    ) == ["cat", "wolf", "mouse", "sheep"]
    assert answer_candidates(["Lily is a frog.", "Lily is green."], "What color is Greg?", "babi") == [
        "green"
    ]
    assert answer_candidates(
        ["The box fits inside the chest."], "Does the box fit in the chest?", "babi"
    ) == ["yes", "no"]
    assert answer_candidates(["x"], "q", "other") == []


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _outcome(problem, answer: str) -> str:
    """ "in" when every part of the answer is a candidate; else why not."""
    candidates = {_norm(c) for c in answer_candidates(problem.facts, problem.question, problem.dataset)}
    parts = [_norm(p) for p in answer.split(";") if p.strip()]
    if all(p in candidates for p in parts):
        return "in"
    if len(parts) > 1 and any(p in candidates for p in parts):
        return "multi-part"
    if not all(p in _norm(" ".join(problem.facts)) for p in parts):
        return "not named"
    return "part of a name or another type"


def test_gold_and_model_answers_are_among_the_candidates():
    """Measured over every shipped problem and every published answer of the authors' Llama-3.2-1B (all three
    settings) and R1's pilot answers. Misses: multi-part gold answers of CoTempQA whose parts are of different
    types (e.g. a school among "which position" answers), bAbI's "apple,football"; model answers that are
    no entity of the facts (truncated outputs, "None"), part of a name ("Workers" cut from "... Workers'
    Party"), or an entity of another type than asked."""
    seen = Counter()
    for problem in problems():
        seen["gold", problem.dataset, _outcome(problem, "; ".join(problem.gold_answers))] += 1
    by_text = {(p.dataset, p.question, tuple(p.facts)): p for p in problems()}
    for setting in ("vanilla", "decomposition_correct", "decomposition_incorrect"):
        for dataset, names in (("cotempqa", RELATIONS), ("babi", ("test",))):
            for name in names:
                for row in outputs(dataset, name, setting):
                    facts = row.get("facts") or ast.literal_eval(row["passage"])
                    problem = by_text[dataset, row["question"], tuple(facts)]
                    seen["model", dataset, _outcome(problem, short_answer(row["prediction"]))] += 1
    by_id = {p.source_id: p for p in problems()}
    for row in pilot_rows():
        seen["model", "pilot", _outcome(by_id[row["id"]], short_answer(row["model_answers"]["r1"]))] += 1
    assert dict(seen) == {
        ("gold", "cotempqa", "in"): 2246,
        ("gold", "cotempqa", "multi-part"): 25,
        ("gold", "babi", "in"): 375,
        ("gold", "babi", "not named"): 1,
        ("model", "cotempqa", "in"): 2723,
        ("model", "cotempqa", "multi-part"): 22,
        ("model", "cotempqa", "not named"): 11,
        ("model", "cotempqa", "part of a name or another type"): 94,
        ("model", "babi", "in"): 1096,
        ("model", "babi", "not named"): 23,
        ("model", "babi", "part of a name or another type"): 9,
        ("model", "pilot", "in"): 15,
        ("model", "pilot", "not named"): 1,
    }
