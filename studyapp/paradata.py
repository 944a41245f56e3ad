"""A participant's paradata summed over their pages (studyapp.models.PageVisit's away_count ...
automation_signals, which a page's script fills in): one query for a set of visits, which the
participants export and the analysis's exclusion rules both read."""

from django.db.models import IntegerField, Max, QuerySet, Sum
from django.db.models.functions import Cast

#: The per-page counts and times that add up over a participant's pages.
SUMMED = ("away_count", "away_ms", "paste_count", "copy_count", "key_count", "pointer_count")


def totals(visits: QuerySet) -> dict[int, tuple]:
    """participant id -> each of SUMMED summed over their measured pages (a page whose script ran),
    then 1 if any of those pages saw a sign of automation, else 0. Participants with no measured page
    are left out."""
    sums = {f"{name}_total": Sum(name) for name in SUMMED}
    rows = (
        visits.filter(automated__isnull=False)
        .values("participant_id").order_by("participant_id")
        .annotate(**sums, automated_any=Max(Cast("automated", IntegerField())))
        .values_list("participant_id", *sums, "automated_any")
    )
    return {pk: tuple(values) for pk, *values in rows}
