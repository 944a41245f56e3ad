"""Write a study's exports to files, streamed, with the same code (and bytes) as the API's downloads."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from studyapp import exports
from studyapp.models import Participant, Study


class Command(BaseCommand):
    help = (
        "Write a study's responses (long and wide), page times, participants and codebook to DIR as CSV "
        "(the API's CSV downloads, byte for byte) or JSON. Previews are left out unless asked for."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--out", required=True, type=Path, help="Folder to write to (created if needed).")
        parser.add_argument("--format", choices=["csv", "json"], default="csv", dest="fmt")
        parser.add_argument(
            "--condition", help="Only this condition's participants (one of the study's condition codes; "
            "between-participants studies only)."
        )
        parser.add_argument("--status", choices=Participant.Status.values, help="Only this status.")
        parser.add_argument("--completed", action="store_true", help="Only participants who completed.")
        parser.add_argument("--include-previews", action="store_true", help="Include preview runs.")

    def handle(self, *args, slug: str, out: Path, fmt: str, **options) -> None:
        try:
            study = Study.objects.get(slug=slug)
        except Study.DoesNotExist:
            raise CommandError(f"No study with slug '{slug}'.") from None
        try:
            exports.check_condition_filter(study, options["condition"])
        except (exports.UnknownCondition, exports.NotAParticipantFilter) as refused:
            raise CommandError(str(refused)) from None
        flt = exports.ParticipantFilter(
            condition=options["condition"], status=options["status"],
            completed_only=options["completed"], include_previews=options["include_previews"],
        )
        out.mkdir(parents=True, exist_ok=True)
        for table in exports.data_tables(study, flt):
            path = out / table.filename(study, fmt)
            with path.open("wb") as f:
                if fmt == "json" and table.name == "codebook":
                    # The codebook's JSON is nested (as the API gives it), not a table.
                    f.write(json.dumps(exports.codebook(study), ensure_ascii=False, indent=2).encode())
                else:
                    exports.write_table(table, f, fmt)
            self.stdout.write(f"Wrote {path}")
