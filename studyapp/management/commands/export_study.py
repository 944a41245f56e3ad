"""Write a study's exports to files, streamed, with the same code (and bytes) as the API's downloads."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from studyapp import audit, exports
from studyapp.management import export_filters


class Command(BaseCommand):
    help = (
        "Write a study's responses (long and wide), page times, participants and codebook to DIR as CSV "
        "(the API's CSV downloads, byte for byte) or JSON. Previews are left out unless asked for."
    )

    def add_arguments(self, parser) -> None:
        export_filters.add_arguments(parser)
        parser.add_argument("--out", required=True, type=Path, help="Folder to write to (created if needed).")
        parser.add_argument("--format", choices=["csv", "json"], default="csv", dest="fmt")

    def handle(self, *args, slug: str, out: Path, fmt: str, **options) -> None:
        study, flt = export_filters.study_and_filter(slug, options)
        audit.record(study, None, audit.Kind.EXPORT, f"export_study command: {fmt} to {out}")
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
