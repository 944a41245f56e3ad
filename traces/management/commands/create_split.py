from django.core.management.base import BaseCommand, CommandError

from traces.splits import SplitError, create_random_split


class Command(BaseCommand):
    help = (
        "Draw a named train/test split of a dataset's stored problems and store it (reproducible from "
        "the seed; once stored, jobs read it). Example: "
        "create_split my-split --dataset cotempqa --test-fraction 0.2"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--subset", default="", help="Draw from one relation, task or query type (e.g. NUMERIC) only."
        )

    def handle(self, *args, name: str, **options) -> None:
        try:
            split = create_random_split(
                options["dataset"], name, test_fraction=options["test_fraction"], seed=options["seed"],
                subset=options["subset"],
            )
        except SplitError as error:
            raise CommandError(str(error)) from error
        counts = {side: split.members.filter(side=side).count() for side in ("train", "test")}
        self.stdout.write(
            f"Split {name!r} of {split.dataset}: {counts['train']} train, {counts['test']} test problems."
        )
