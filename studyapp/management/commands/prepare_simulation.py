"""Fill a study's answer candidates and masked texts for the simulation task (studyapp.simulation_texts)."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp.models import Study
from studyapp.simulation_texts import prepare


class Command(BaseCommand):
    help = ("Give every stimulus of the study its answer candidates and every text a version with the "
            "model's final answer withheld, where they are empty; lists the texts that cannot be masked.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The study's slug.")

    def handle(self, *args, slug: str, **options) -> None:
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        done = prepare(study)
        self.stdout.write(f"{study.slug}: {done.summary()}.")
        for line in done.refused:
            self.stdout.write(f"  not masked: {line}")
