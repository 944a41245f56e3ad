"""The paper's answer metrics: CoTempQA's evaluation, the bAbI and the MS MARCO metric, as the authors
ran them.

arXiv 2505.13792 scores final answers with CoTempQA's evaluation (Su et al., ACL 2024), in the
version in the authors' ``scripts/cotempqa_config.py::evaluate_model``, bAbI with
``scripts/babiqa_config.py::evaluate_model`` and MS MARCO with ``scripts/marco_config.py::evaluate_model``
(branch ``marcoqa``). This module implements the same definitions in the
project's own code, so the published ``*.results.json`` figures can be regenerated from the
published outputs (``tests/traces/test_published_outputs.py`` checks every one to 0.1).

CoTempQA (``cotempqa_answer_score``):

1. The output is lower-cased and cut down to an answer region: the text between the first
   ``<answer>`` and the next ``<answer>``/``</answer>``; else the text before "answer the question
   based on"; else the text between the first and the second " answer "; else the text after
   "answer:" (up to a second one). Every "assistant" and "think" is then deleted.
2. Candidate answers are the gold answers plus one entity per context fact: a fact that names one
   of eight Wikidata relations (position held, party membership, school, employer, team, chair,
   head, owner; past tense read as present) is split by the relation's template into subject and
   object. As the authors ran it, the subject is taken for every triple pattern except
   ``S2_R1_O1`` and the object for ``S2_R1_O1``, the reverse of the ``evaluate_gpt`` in the same
   file; the published figures were made this way, so the project keeps it.
3. Candidates are tried longest first. The first that is in both the answer region and the
   question is deleted from the region and ignored (it restates the question); every other
   candidate found in the region is a predicted answer and is deleted from it. When none is
   found, the whole region is the one predicted answer.
4. Predicted and gold answers are normalised (lower case, ASCII punctuation removed, spaces
   collapsed; no article removal) and compared as sorted lists: exact match, and F1, precision and
   recall over the two lists.

Two things about the published metric that a reader of its figures should know, both measured on
CoTempQA's 1,652 problems (``tests/traces/test_answer_metrics.py``): an answer listing every
object in the context is right for 1,630 of them (step 2 makes non-gold objects no candidates for
object questions, so they are ignored), and the gold answers themselves, exactly as the rule's
traces write them, are wrong for 25: a gold answer inside the question's own entity ("Australian
Labor Party" in "Australian Labor Party (South Australian Branch)") is deleted in step 3, every
"assistant" is deleted from "assistant professor", and ``\xa0`` as a Python list writes it is not a
no-break space. The published region is also read from the whole output when it has no
``<answer>``, so a truncated trace that lists the answer's fact gets the answer right.
``as_published=False`` is the project's strict check, which fixes these: the candidates are the
entities of the type the question asks for, a gold answer is never deleted as the question's
entity, the answer is only what the output gives as its answer (``strict_answer_region``), and
answers, candidates and gold are compared in Unicode's NFKC form with typographic dashes and quotes
as ASCII (``unicode_form``: an en dash or a decomposed accent is the same answer).

Candidates of equal length are tried in alphabetical order; the authors' code tried them in the
order of a Python set of strings, which changes from run to run.

bAbI (``babi_answer_score``): the same answer region; the answer is right when the lower-cased
gold answer occurs in it and the whole normalised region equals the normalised gold answer. F1,
precision and recall are then 1 or 0 with it. ("The answer is green." is wrong by it: its region is
"is green."; the strict check reads the answer "green".)

MS MARCO (``msmarco_answer_score``): bAbI's rule. The region is the same, except for a "No Answer
Present." query, whose region is the text up to ``</answer>`` after the first ``<answer>`` (each where
present), never falling back to "answer:" and the like; the output is right when the gold answer
occurs in its region and the whole region, normalised, equals it. A query's answers reached the
authors' ``evaluate_model`` through a CSV written from numpy arrays (``['a' 'b']``, no commas), which
``ast.literal_eval`` reads as one string, so a query with several answers had one gold answer, their
concatenation, which no output gives: it is never right, and neither is it here. The strict check
(``as_published=False``) is bAbI's against each gold answer: right when the answer the output gives,
cleaned and in one Unicode form, equals any one of them ("No Answer Present." included).

Other datasets (``answer_score``) use step 3 and 4 with the gold answers as the only candidates.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .parsing import clean_answer, final_answer, find_tag, scan_list

__all__ = [
    "AnswerScore",
    "answer_region",
    "answer_score",
    "babi_answer_score",
    "cotempqa_answer_score",
    "fact_entities",
    "msmarco_answer_score",
    "names_stated_answers",
    "normalize",
    "stated_answers",
    "strict_answer_region",
    "unicode_form",
]

_PUNCTUATION = frozenset(string.punctuation)

# (word found in a fact, the verb phrase of that relation's templates), in the authors' order: a
# fact is read with the first relation whose word it contains and whose templates match it.
RELATION_PHRASES: tuple[tuple[str, str], ...] = (
    (" the position of ", "holds the position of"),  # P39
    (" a member of ", "is a member of the"),  # P102
    (" the chair of ", "is the chair of"),  # P488
    (" the head of ", "is the head of"),  # P6
    (" owned by ", "is owned by"),  # P127
    ("attend", "attended"),  # P69
    ("work", "works for"),  # P108
    ("play", "plays for"),  # P54
)
# Per relation: "<subject> <phrase> <object> from <date> to <date>.", "... in <date>.",
# "... from <date>" and "<subject> <phrase> <object>.", matched at the start of the fact, groups lazy.
_TEMPLATES: dict[str, tuple[re.Pattern[str], ...]] = {
    phrase: tuple(
        re.compile(f"(.+?) {re.escape(phrase)} (.+?){tail}")
        for tail in (r" from (.+?) to (.+?)\.", r" in (.+?)\.", " from (.+?)", r"\.")
    )
    for _, phrase in RELATION_PHRASES
}
#: The past tense of the relations' verbs, read as the present that CoTempQA's facts use.
PAST_TO_PRESENT = (
    (" was ", " is "), (" held ", " holds "), (" worked ", " works "), (" played ", " plays ")
)


@dataclass(frozen=True)
class AnswerScore:
    """One output's answer grade: exact match of the answer sets, and F1, precision and recall."""

    exact_match: bool
    f1: float
    precision: float
    recall: float
    predicted: tuple[str, ...]  # the normalised predicted answers, sorted

    @classmethod
    def compare(cls, predicted: Sequence[str], gold: Sequence[str]) -> AnswerScore:
        """Score normalised, sorted predicted answers against normalised, sorted gold answers."""
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common == 0:
            return cls(list(predicted) == list(gold), 0.0, 0.0, 0.0, tuple(predicted))
        precision = common / len(predicted)
        recall = common / len(gold)
        f1 = 2 * precision * recall / (precision + recall)
        return cls(list(predicted) == list(gold), f1, precision, recall, tuple(predicted))


def normalize(text: str) -> str:
    """CoTempQA's normal form: lower case, ASCII punctuation removed, whitespace collapsed."""
    return " ".join("".join(ch for ch in text.lower() if ch not in _PUNCTUATION).split())


_ESCAPE_RE = re.compile(r"\\x([0-9a-f]{2})|\\u([0-9a-f]{4})")
#: Dashes and quotes a model may write for the ASCII ones its facts use.
_UNICODE_PUNCTUATION = str.maketrans({
    **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
    **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
    **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
})


def unicode_form(text: str) -> str:
    """Text as the strict checks compare it: Unicode NFKC (a decomposed accent is the composed one, a
    no-break space a space), typographic dashes and quotes as ASCII, lower case. The published metric
    compares code points as the authors' scripts did."""
    return unicodedata.normalize("NFKC", text).translate(_UNICODE_PUNCTUATION).lower()


def strict_answer_region(prediction: str) -> str:
    """The lower-cased final answer the output gives (``parsing.final_answer``: in ``<answer>``, after
    ``</think>``, or the reply itself when it writes no steps), not mentions in its reasoning; the
    escapes of a Python list (``\\xa0``) read as the characters they stand for; "" when it gives none.
    Unlike the published region, "assistant" and "think" inside an answer ("assistant professor")
    are kept."""
    answer = (final_answer(prediction) or "").lower().replace("<think>", "").replace("</think>", "")
    return _ESCAPE_RE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), answer)


def answer_region(prediction: str) -> str:
    """The lower-cased part of an output that the published metric reads answers from (step 1)."""
    text = prediction.lower()
    if "<answer>" in text:
        text = text.split("<answer>")[1]
        if "</answer>" in text:
            text = text.split("</answer>")[0]
    elif "answer the question based on" in text:
        text = text.split("answer the question based on")[0]
    elif " answer " in text:
        text = text.split(" answer ")[1]
    elif "answer:" in text:
        text = text.split("answer:")[1]
    return text.replace("assistant", "").replace("think", "")


@lru_cache(maxsize=1 << 16)  # every output of a problem reads the same facts
def _fact_entity(fact: str) -> tuple[str, str] | None:
    """(subject, object) of a fact as the first relation template that reads it splits it."""
    for word, phrase in RELATION_PHRASES:
        if word not in fact:
            continue
        for old, new in PAST_TO_PRESENT:
            fact = fact.replace(old, new)
        match = next((m for t in _TEMPLATES[phrase] if (m := t.match(fact))), None)
        if match is not None:
            return match.group(1).lower(), match.group(2).lower()
    return None


def fact_entities(facts: Sequence[str], *, subjects: bool) -> list[str]:
    """One lower-cased entity per fact that a relation template reads: its subject or its object."""
    return [pair[0 if subjects else 1] for fact in facts if (pair := _fact_entity(fact)) is not None]


def _normalized_sorted(answers: Sequence[str]) -> list[str]:
    # A set first, then normalised: two answers that normalise alike count twice, as in CoTempQA.
    return sorted(normalize(a) for a in set(answers))


def _predicted(
    region: str, candidates: Sequence[str], question: str, keep: frozenset[str] = frozenset()
) -> list[str]:
    """Step 3 above: the candidates found in the region (or the region itself); a candidate in
    ``keep`` is never taken for the question's own entity."""
    predicted: list[str] = []
    skipped_question_entity = False
    for candidate in sorted(set(candidates), key=lambda c: (-len(c), c)):
        if candidate not in region:
            continue
        if not skipped_question_entity and candidate in question and candidate not in keep:
            region = region.replace(candidate, "")
            skipped_question_entity = True
            continue
        predicted.append(candidate)
        region = region.replace(candidate, "")
    return predicted or [region]


def answer_score(
    prediction: str,
    gold: Sequence[str],
    *,
    question: str,
    candidates: Sequence[str] = (),
    keep_gold: bool = False,
) -> AnswerScore:
    """Set exact match and F1 of an output's answers against the gold answers (steps 1, 3, 4).

    ``keep_gold`` (the strict check): a gold answer that occurs in the question is still an answer,
    not the question's own entity restated (the published metric drops it, so it marks the gold
    answer itself wrong when it is part of the question's entity, e.g. "Red" in "... a member of Red
    Electoral Alliance"), and the answer is the one the output gives (``strict_answer_region``).
    """
    if keep_gold:
        golds = [unicode_form(g) for g in gold]
        candidates, question = [unicode_form(c) for c in candidates], unicode_form(question)
        region, keep = unicode_form(strict_answer_region(prediction)), frozenset(golds)
    else:
        golds, keep, region = [g.lower() for g in gold], frozenset(), answer_region(prediction)
    predicted = _predicted(region, [*candidates, *golds], question.lower(), keep)
    return AnswerScore.compare(_normalized_sorted(predicted), _normalized_sorted(golds))


def cotempqa_answer_score(
    prediction: str,
    gold: Sequence[str],
    *,
    question: str,
    facts: Sequence[str],
    triple_element: str,
    as_published: bool = True,
) -> AnswerScore:
    """The paper's CoTempQA answer metric for one output (the module docstring says how).

    ``as_published=False`` is the project's strict check: it takes the candidate entities of the
    type the question asks for (the subject for ``S2_R1_O1``, else the object), as ``evaluate_gpt``
    does, so an answer that lists other entities of that type besides the gold ones is wrong, where
    the published metric, reading subjects as candidates for object questions, ignores every object
    that is not gold; and it keeps a gold answer that occurs in the question (``answer_score``).
    """
    asks_subject = "S2_R1_O1" in triple_element
    entities = fact_entities(facts, subjects=asks_subject != as_published)
    return answer_score(
        prediction, gold, question=question, candidates=entities, keep_gold=not as_published
    )


def babi_answer_score(prediction: str, gold: str, *, as_published: bool = True) -> AnswerScore:
    """The paper's bAbI answer metric for one output; ``as_published=False`` (the strict check)
    compares the answer the output gives, cleaned of labels such as "The answer is" or a LaTeX box
    (``parsing.clean_answer``), where the published metric compares its whole answer region."""
    if as_published:
        region = answer_region(prediction)
        predicted = [region] if gold.lower() in region else []
    else:
        answer = clean_answer(final_answer(prediction))
        predicted = [unicode_form(answer)] if answer else []
        gold = unicode_form(gold)
    return AnswerScore.compare(_normalized_sorted(predicted), [normalize(gold.lower())])


def msmarco_answer_score(prediction: str, gold: Sequence[str], *, as_published: bool = True) -> AnswerScore:
    """The paper's MS MARCO answer metric for one output (the module docstring says how);
    ``as_published=False`` is the strict check: bAbI's, against each gold answer in turn."""
    if not as_published:
        return max((babi_answer_score(prediction, g, as_published=False) for g in gold),
                   key=lambda score: score.exact_match)
    joined = "".join(gold)  # their CSV's several answers: one string (module docstring)
    if "no answer present" in joined.lower() and find_tag("<answer>", prediction) < 0:
        prediction = "<answer>" + prediction  # for such a query their region is the whole output
    return babi_answer_score(prediction, joined)


def stated_answers(text: str) -> list[str] | None:
    """The answers a trace states in an ``<answer>`` tag, as the decomposition traces end (a Python
    list, such as ``['Liberal Party of Canada']``, read as its items); None for a trace without one:
    free text, such as R1's reasoning or a summary, states no answer that can be read off for sure."""
    if find_tag("<answer>", text) < 0:
        return None
    answer = (final_answer(text) or "").strip()
    if answer.startswith("["):
        items, closed, _ = scan_list(answer)
        if closed:
            return [item.strip() for item in items if item.strip()]
    return [answer] if answer else []


def names_stated_answers(shown: str, stated: Sequence[str], *, question: str, facts: Sequence[str]) -> bool:
    """Whether an answer shown alone names exactly the answers a trace states: the strict check with the
    stated answers as gold and every entity of the facts (subjects and objects) as a candidate, so a
    shown answer that names another entity as well, or none of them ("None"), differs."""
    candidates = [*fact_entities(facts, subjects=False), *fact_entities(facts, subjects=True)]
    return answer_score(shown, stated, question=question, candidates=candidates, keep_gold=True).exact_match
