from django.core.management.base import BaseCommand, CommandError

from traces.management.saving import save_validated
from traces.models import Checkpoint, Setting


class Command(BaseCommand):
    help = "Register a local model directory (written by save_pretrained) as a checkpoint."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("path")
        parser.add_argument("--base", help="Name of the checkpoint it was fine-tuned from.")
        parser.add_argument("--setting", choices=Setting.values, default="")

    def handle(self, *args, name: str, path: str, base: str | None, setting: str, **options) -> None:
        checkpoint = Checkpoint(name=name, path=path, setting=setting)
        if base:
            checkpoint.base = Checkpoint.objects.filter(name=base).first()
            if checkpoint.base is None:
                raise CommandError(f"No checkpoint named {base!r}.")
        save_validated(checkpoint)
        self.stdout.write(f"Registered checkpoint {name} at {path}.")
