"""Draw a study's stimuli from one model's graded outputs (studyapp.output_stimuli), as the admin does."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studyapp.models import Study
from studyapp.output_stimuli import build_from_outputs, draw_for_study
from studyapp.stimulus_builder import BuildError


class Command(BaseCommand):
    help = ("Draw stimuli from a model's graded outputs, balanced over the ground truth under the study's "
            "truth definition, and build them: each output's problem, answer, grades and text. Example: "
            "stimuli_from_outputs verify --model Llama-3.2-1B-Instruct --setting decomposition_correct "
            "--dataset cotempqa --count 20 --balance answer_trace")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The study's slug.")
        parser.add_argument("--model", required=True, help="The model's name, as its evaluations give it.")
        parser.add_argument("--setting", required=True, help="The setting the outputs were made in.")
        parser.add_argument("--dataset", required=True, help="cotempqa or babi.")
        parser.add_argument("--subset", default="", help="One relation or bAbI task (default: all).")
        parser.add_argument("--count", type=int, default=20, help="How many stimuli (default 20).")
        parser.add_argument("--balance", choices=("answer", "answer_trace"), default="answer",
                            help="answer: as many right as wrong answers; answer_trace: as many in each cell "
                                 "of correct or incorrect trace x right or wrong answer.")
        parser.add_argument("--seed", type=int, default=0, help="The draw is reproducible from it.")

    def handle(self, *args, slug: str, **options) -> None:
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study with slug '{slug}'.")
        try:
            drawn = draw_for_study(study, options["model"], options["setting"], options["dataset"],
                                   subset=options["subset"], n=options["count"],
                                   by_trace=options["balance"] == "answer_trace", seed=options["seed"])
            result = build_from_outputs(study, drawn)
        except BuildError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{study.slug}: {len(result.created)} stimuli made, {len(result.completed)} "
                          f"remade, {len(result.skipped_rated)} left as participants answered them.")
