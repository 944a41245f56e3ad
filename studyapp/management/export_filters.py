"""The participant filters the export commands take (export_study, export_psychds), as the API's exports
take them: the same options, the same refusals."""

from argparse import ArgumentParser

from django.core.management.base import CommandError

from studyapp import exports
from studyapp.models import Participant, Study


def add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("slug", help="The study's slug.")
    parser.add_argument(
        "--condition", help="Only this condition's participants (one of the study's condition codes; "
        "between-participants studies only)."
    )
    parser.add_argument("--status", choices=Participant.Status.values, help="Only this status.")
    parser.add_argument("--completed", action="store_true", help="Only participants who completed.")
    parser.add_argument("--include-previews", action="store_true", help="Include preview runs.")


def study_and_filter(slug: str, options: dict) -> tuple[Study, exports.ParticipantFilter]:
    """The study and the filter the options name; CommandError, saying why, for an unknown study or a
    condition filter it cannot take."""
    try:
        study = Study.objects.get(slug=slug)
    except Study.DoesNotExist:
        raise CommandError(f"No study with slug '{slug}'.") from None
    try:
        exports.check_condition_filter(study, options["condition"])
    except (exports.UnknownCondition, exports.NotAParticipantFilter) as refused:
        raise CommandError(str(refused)) from None
    return study, exports.ParticipantFilter(
        condition=options["condition"], status=options["status"],
        completed_only=options["completed"], include_previews=options["include_previews"],
    )
