"""python manage.py plan_power <slug> [--per-condition N] [--effect D] [--simulations N] [--json]: the
simulated power of the study's planned primary test (see analysis.planner)."""

from django.core.management.base import BaseCommand, CommandError

from analysis import planner
from analysis.report import to_json
from studyapp.models import Study


class Command(BaseCommand):
    help = (
        "Simulate studies of a design and print how often the study's planned primary test (Holm across its "
        "primary outcomes) detects the effect, with the 95% interval; the design starts as the study is set "
        "up, any option changes it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="The study's slug.")
        for name in planner.SETTINGS:
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name,
                                help=f"{name.replace('_', ' ')} (default: the study's, or the planner's)")
        parser.add_argument("--simulations", default=str(planner.COMMAND_SIMULATIONS),
                            help=f"simulated studies (default {planner.COMMAND_SIMULATIONS:,})")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, slug: str, **options) -> None:
        study = Study.objects.filter(slug=slug).first()
        if study is None:
            raise CommandError(f"No study {slug!r}.")
        design, planned = planner.defaults(study)
        design, errors = planner.parse({k: options.get(k) for k in planner.SETTINGS}, design)
        count, more = planner.simulations_from(options["simulations"], planner.COMMAND_SIMULATIONS, None,
                                               design)
        if errors or more:
            raise CommandError("; ".join(errors + more) + ".")
        result = planner.run(design, planned, count, seed=options["seed"])
        self.stdout.write(to_json(result) if options["json"] else result["words"])
