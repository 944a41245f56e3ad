"""Which stimuli a participant reads, and in which condition each, so that over the participants who
complete every stimulus is read equally often in every condition: plain data in, plain data out.

Stimulus lists. With S stimuli and T trials per participant, list k holds the T stimuli at positions
k*T ... k*T + T - 1 of the stimuli taken round and round (mod S); L = S / gcd(S, T) lists cover every
stimulus T / gcd(S, T) times. Lists are handed out in order, each new participant taking the list held
by the fewest of those holding a place (ties: the lowest), so after any n participants each stimulus
has been drawn floor or ceil(n*T/S) times, and a list whose holder left is the first to be handed out
again.

Between participants, each condition hands out its own lists: exact balance per condition at every
multiple of L participants, within one stimulus otherwise. Within participants, each participant reads
every condition: a cell is a list and a rotation r (0 ... C-1), and the list's j-th stimulus is read in
condition (j + r) mod C; the C rotations of a list put every stimulus in every condition once, so the
stimulus x condition counts are exact at every multiple of L*C participants. The conditions' order over
the trials comes from a balanced Latin square (Williams design: each condition first equally often, and
each follows every other equally often), one row per participant, handed out the same way; the
stimuli read in a condition fill that condition's trials in a random order.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass


def list_count(n_stimuli: int, per_participant: int) -> int:
    """How many stimulus lists cover every stimulus equally often."""
    return n_stimuli // math.gcd(n_stimuli, per_participant)


def stimulus_list(stimuli: Sequence[int], per_participant: int, k: int) -> list[int]:
    """The k-th list: ``per_participant`` stimuli, consecutive in the round of ``stimuli``."""
    return [stimuli[(k * per_participant + j) % len(stimuli)] for j in range(per_participant)]


def least_held(n: int, held: Counter) -> int:
    """The index in 0 ... n-1 held by the fewest (ties: the lowest), given how many hold each."""
    return min(range(n), key=lambda k: (held[k], k))


def williams_square(n: int) -> list[list[int]]:
    """A balanced Latin square of n conditions (Williams 1949): n rows for even n, 2n for odd n (the rows
    and their reverses). Each condition stands in each position equally often, and (for n > 1) follows
    each other condition equally often."""
    if n == 1:
        return [[0]]
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    rows = [[(c + r) % n for c in first] for r in range(n)]
    return rows if n % 2 == 0 else rows + [row[::-1] for row in rows]


def between_trials(stimuli: Sequence[int], per_participant: int, list_index: int,
                   rng: random.Random) -> list[int]:
    """A between-participants participant's stimuli: their list, in a random order."""
    chosen = stimulus_list(stimuli, per_participant, list_index)
    rng.shuffle(chosen)
    return chosen


def within_trials(stimuli: Sequence[int], conditions: Sequence[str], per_participant: int, cell: int,
                  order_row: int, rng: random.Random) -> tuple[list[int], list[str]]:
    """A within-participants participant's (stimulus ids, condition codes) per trial: the cell's list and
    rotation say which condition each stimulus is read in, the Latin square's row the order of the
    conditions over the trials. ``per_participant`` must be a multiple of the conditions."""
    n = len(conditions)
    list_index, rotation = divmod(cell, n)
    read_in: dict[int, list[int]] = {c: [] for c in range(n)}
    for j, stimulus in enumerate(stimulus_list(stimuli, per_participant, list_index)):
        read_in[(j + rotation) % n].append(stimulus)
    for group in read_in.values():
        rng.shuffle(group)
    row = williams_square(n)[order_row]
    trial_conditions = [row[t % n] for t in range(per_participant)]
    sequence = [read_in[c].pop() for c in trial_conditions]
    return sequence, [conditions[c] for c in trial_conditions]


def design_problems(design: str, n_conditions: int, per_participant: int,
                    n_stimuli: int | None = None) -> list[str]:
    """Why such a design cannot be run at all, in words (empty when it can). ``n_stimuli``: the problems
    with a text in every condition, where they must be (within participants)."""
    problems = []
    if not 2 <= n_conditions <= 12:
        problems.append(f"A study compares 2 to 12 conditions; this one has {n_conditions}.")
    if n_stimuli is not None and n_stimuli < per_participant:
        problems.append(f"Each participant reads {per_participant} problems, but only {n_stimuli} have texts "
                        "in every condition.")
    if design == "within" and n_conditions and per_participant % n_conditions:
        lower = per_participant - per_participant % n_conditions
        problems.append(
            f"Within participants, each reads every condition equally often, so the trials per participant "
            f"({per_participant}) must be a multiple of the {n_conditions} conditions: "
            f"{', '.join(str(x) for x in (lower, lower + n_conditions) if x > 0)} would work."
        )
    return problems


def exact_balance_at(design: str, n_conditions: int, n_stimuli: int, per_participant: int) -> int:
    """Every how many participants (per condition, between participants) the stimulus x condition counts
    are exactly equal."""
    lists = list_count(n_stimuli, per_participant)
    if design == "within":
        order_rows = len(williams_square(n_conditions))
        return math.lcm(lists * n_conditions, order_rows)
    return lists


def balance_note(design: str, n_conditions: int, n_stimuli: int, per_participant: int, target: int) -> str:
    """Whether the target gives exactly balanced counts; if not, which targets would ("" when it does)."""
    every = exact_balance_at(design, n_conditions, n_stimuli, per_participant)
    if target % every == 0:
        return ""
    who = "participants per condition" if design == "between" else "participants"
    nearest = [x for x in (target - target % every, target - target % every + every) if x > 0]
    return (f"With {n_stimuli} problems and {per_participant} trials each, the stimulus x condition counts "
            f"are exactly equal at multiples of {every} {who} ({' or '.join(map(str, nearest))} near "
            f"{target}); at {target} they stay within one or two of each other (the monitor shows the "
            "largest difference).")


def read_counts(trials: Iterable[tuple[Sequence[int], Sequence[str]]]) -> Counter:
    """(stimulus, condition code) -> how often it was read, over participants' (stimuli, trial conditions)."""
    counts: Counter = Counter()
    for sequence, conditions in trials:
        counts.update(zip(sequence, conditions, strict=False))
    return counts


@dataclass(frozen=True)
class Imbalance:
    """How far stimulus x condition counts are from equal: the largest difference between two stimuli's
    counts in one condition (and which condition), and between one stimulus's counts in two conditions
    (and which stimulus); None where there is nothing to compare."""

    within: int = 0
    within_condition: str | None = None
    across: int = 0
    across_stimulus: Hashable | None = None


def imbalance(counts: Mapping[tuple[Hashable, str], int],
              readable: Mapping[str, Sequence[Hashable]]) -> Imbalance:
    """The largest differences of ``counts`` over the stimuli each condition can show (``readable``:
    condition code -> stimuli); the first condition and stimulus reaching them are named."""
    within, within_condition = 0, None
    per_stimulus: dict[Hashable, list[int]] = {}
    for condition, stimuli in readable.items():
        column = [counts.get((stimulus, condition), 0) for stimulus in stimuli]
        if column and max(column) - min(column) > within:
            within, within_condition = max(column) - min(column), condition
        for stimulus, n in zip(stimuli, column, strict=True):
            per_stimulus.setdefault(stimulus, []).append(n)
    across, across_stimulus = 0, None
    for stimulus, row in per_stimulus.items():
        if max(row) - min(row) > across:
            across, across_stimulus = max(row) - min(row), stimulus
    return Imbalance(within, within_condition, across, across_stimulus)
