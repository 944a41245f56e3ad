"""Write a study as a study file, or create a study from one (studyapp.spec)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp import spec
from studyapp.models import Study


class Command(BaseCommand):
    help = (
        "export SLUG [--output FILE]: write everything that defines the study as one JSON file (format "
        f"{spec.FORMAT}, schema {spec.SCHEMA_PATH.name}). import FILE [--slug SLUG]: create the study it "
        "describes, as a draft; a file with anything wrong is refused whole, each error with its field and "
        "line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        export = actions.add_parser("export", help="Write a study's file.")
        export.add_argument("slug", help="The study's slug.")
        export.add_argument("--output", type=Path, help="The file to write (default: standard output).")
        load = actions.add_parser("import", help="Create a study from a file, as a draft.")
        load.add_argument("file", type=Path, help="The study file.")
        load.add_argument("--slug", help="Create it under this slug instead of the file's.")

    def handle(self, *args, action: str, **options) -> None:
        if action == "export":
            self._export(options["slug"], options["output"])
        else:
            self._import(options["file"], options["slug"])

    def _export(self, slug: str, output: Path | None) -> None:
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        text = spec.dumps(spec.export_study(study))
        if output is None:
            self.stdout.write(text, ending="")
            return
        output.write_text(text, encoding="utf-8")
        self.stderr.write(f"Wrote {output}")

    def _import(self, path: Path, slug: str | None) -> None:
        try:
            source = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        try:
            imported = spec.import_study(source, slug=slug)
        except spec.InvalidSpec as invalid:
            lines = "".join(f"\n  {path.name}: {error}" for error in invalid.errors)
            count = f"{len(invalid.errors)} problem{'s' if len(invalid.errors) > 1 else ''}"
            raise CommandError(f"Nothing was imported: {count} in {path}.{lines}") from None
        study = imported.study
        self.stdout.write(
            f"Created study '{study.slug}' (a draft) with {study.conditions.count()} conditions, "
            f"{study.items.count()} items and {study.stimuli.count()} stimuli."
        )
        for warning in imported.warnings:
            self.stderr.write(f"Warning: {warning}")
