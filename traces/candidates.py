"""The answers a simulation trial offers: the entities a problem's facts name that could answer its question.

A participant predicting the model's answer chooses among these (the platform shuffles them per
participant and adds "none of these"). They come from the facts alone, never from the gold or the
model's answer, so the options give nothing away.

CoTempQA: every fact is a dated triple, "<subject> <relation> <object> from <date> to <date>." in one of
eight Wikidata relations (position held, party membership, school, employer, team, chair, head, owner;
read by the templates of ``traces.grading.answers``). The question names the relation it asks about
("which political party", "which employer", "who also attended ...") and asks for an object ("which
...") or a subject ("who ..."). The candidates are the objects (or subjects) of the facts in that
relation, the question's own entity included (a model may well answer it). When the question's
relation cannot be told or no fact has it, every fact's object (or subject) is a candidate.

bAbI (the authors' eleven tasks): "Where ...?" and "What is north of ...?" offer the locations the
story names, "What is X carrying?" its objects and "nothing", "How many ...?" the counts from "none"
to the number of objects named, "What color ...?" the colours, "What is X afraid of?" the species (in
the singular, as bAbI answers), and yes/no questions "yes" and "no". A multi-part answer
("apple,football") is no single candidate.

MS MARCO offers none: its answers are free text an annotator wrote (a definition, a number with its
unit, a sentence), not an entity the passages name, so a trial on it needs another response format.

Candidates keep the facts' order, once each (the first spelling of names that differ only in case).
"""

from __future__ import annotations

import re

from traces.decomposition import parse_fact
from traces.grading.answers import PAST_TO_PRESENT, RELATION_PHRASES

__all__ = ["answer_candidates"]

# Question words that name each relation (keyed by the phrase of traces.grading.answers' templates);
# the one named first in the question's main clause is the relation asked about.
_QUESTION_RELATION: tuple[tuple[str, str], ...] = (
    (r"\bpolitical party\b|\bparty\b|\bmember\b", "is a member of the"),
    (r"\bschool\b|\battend", "attended"),
    (r"\bemployer\b|\bwork", "works for"),
    (r"\bteam\b|\bplay", "plays for"),
    (r"\bchair\b", "is the chair of"),
    (r"\bhead\b", "is the head of"),
    (r"\bown", "is owned by"),
    (r"\bposition\b|\bhold\b|\bheld\b", "holds the position of"),
)
_MAIN_CLAUSE_RE = re.compile(r",\s*(?=(?:which|who|whom|what)\b)", re.IGNORECASE)
_BABI_OBJECT_RE = re.compile(
    r"\b(?:got|took|picked up|grabbed|dropped|discarded|left|put down)\s+the\s+([a-z]+)", re.IGNORECASE
)
_BABI_THE_RE = re.compile(r"\bthe\s+([a-z]+)", re.IGNORECASE)
_BABI_COLOUR_RE = re.compile(r"^\s*[A-Z]\w*\s+is\s+(?!a\b|an\b|the\b)([a-z]+)\.\s*$")
_BABI_SPECIES_RE = re.compile(r"\bis an?\s+([a-z]+)|^\s*(\w+)\s+are afraid of\s+(\w+)", re.IGNORECASE)
_COUNTS = ("none", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_PLURALS = {"mice": "mouse", "wolves": "wolf", "sheep": "sheep", "geese": "goose"}


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in (" ".join(i.split()) for i in items):
        if item and item.lower() not in seen:
            seen.add(item.lower())
            out.append(item)
    return out


def _triple(fact: str) -> tuple[str, str, str] | None:
    """(subject, relation phrase, object) of a CoTempQA fact, in the fact's own spelling; None if unread."""
    parsed = parse_fact(fact)
    statement = parsed.text if parsed else fact.strip().rstrip(".")
    for old, new in PAST_TO_PRESENT:
        statement = statement.replace(old, new)
    for word, phrase in RELATION_PHRASES:
        if word in f" {statement} " and f" {phrase} " in statement:
            subject, _, obj = statement.partition(f" {phrase} ")
            return subject.strip(), phrase, obj.strip()
    return None


def _cotempqa(facts: list[str], question: str) -> list[str]:
    clauses = _MAIN_CLAUSE_RE.split(question)
    asked = clauses[-1]
    asks_subject = re.match(r"\s*who\b", asked, re.IGNORECASE) is not None
    found = [(m.start(), phrase) for words, phrase in _QUESTION_RELATION
             if (m := re.search(words, asked, re.IGNORECASE))]
    relation = min(found)[1] if found else None  # the first named: "worked for X School" asks for employers
    triples = [t for t in (_triple(f) for f in facts) if t is not None]
    chosen = [t for t in triples if t[1] == relation] or triples
    return _unique([t[0] if asks_subject else t[2] for t in chosen])


def _singular(word: str) -> str:
    word = word.lower()
    if word in _PLURALS:
        return _PLURALS[word]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def _babi(facts: list[str], question: str) -> list[str]:
    q = question.strip().lower()
    objects = _unique([m.group(1).lower() for f in facts for m in _BABI_OBJECT_RE.finditer(f)])
    if re.match(r"(?:is|does|do|are|can|will)\b", q):
        return ["yes", "no"]
    if q.startswith("how many"):
        return list(_COUNTS[: max(1, len(objects)) + 1])
    if "color" in q or "colour" in q:
        return _unique([m.group(1) for f in facts if (m := _BABI_COLOUR_RE.match(f))])
    if "afraid" in q:
        species = [_singular(g) for f in facts for m in _BABI_SPECIES_RE.finditer(f) for g in m.groups() if g]
        return _unique(species)
    if "carrying" in q or "holding" in q:
        return [*objects, "nothing"]
    places = [m.group(1).lower() for f in facts for m in _BABI_THE_RE.finditer(f)]
    return _unique([p for p in places if p not in objects])


def answer_candidates(facts: list[str], question: str, dataset: str = "cotempqa") -> list[str]:
    """The entities ``facts`` name that could answer ``question`` (module docstring: how), in the facts'
    order, each once; [] for MS MARCO and any dataset this does not know."""
    if dataset == "cotempqa":
        return _cotempqa(list(facts), question)
    if dataset == "babi":
        return _babi(list(facts), question)
    return []
