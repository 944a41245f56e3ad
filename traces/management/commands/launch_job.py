import json
import time

from django.core.management.base import BaseCommand, CommandError

from traces import jobs
from traces.models import TRACE_JOB_KINDS, Checkpoint, Endpoint, Job, Setting
from traces.splits import SplitError


class Command(BaseCommand):
    help = (
        "Launch a job on the GPU queue: fine-tune, generate, evaluate, or make reasoning traces, summaries "
        "or explanations, on a checkpoint or an endpoint. Examples: launch_job evaluate --checkpoint tiny "
        "--setting decomposition_correct --dataset cotempqa --split authors --side test --param "
        "max_new_tokens=128 --wait; launch_job reasoning --endpoint deepseek --dataset cotempqa --subset "
        "during --limit 50; launch_job reasoning --endpoint deepseek --dataset cotempqa --split authors "
        "--side test --per-subset 10 (10 of each relation)"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=Job.Kind.values)
        model = parser.add_mutually_exclusive_group(required=True)
        model.add_argument("--checkpoint", help="Checkpoint name (a local model).")
        model.add_argument("--endpoint", help="Endpoint name (an OpenAI-compatible server).")
        parser.add_argument(
            "--setting", choices=Setting.values, default="",
            help="Required for fine-tune, generate and evaluate; a trace job makes the kind it is named for.",
        )
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--subset", default="", help="A CoTempQA relation or bAbI task; default: all.")
        parser.add_argument(
            "--split", default="",
            help="Take the problems from one side of this stored split (e.g. authors); default: all.",
        )
        parser.add_argument("--side", choices=("train", "test"), default="test")
        chosen = parser.add_mutually_exclusive_group()
        chosen.add_argument("--limit", type=int, help="The first N problems.")
        chosen.add_argument(
            "--per-subset", type=int, metavar="N",
            help="N problems of each relation (bAbI: task; MS MARCO: query type), drawn at random from "
            "--draw-seed: a job "
            "balanced over them.",
        )
        parser.add_argument("--draw-seed", type=int, default=0, help="Seeds --per-subset's draw (default 0).")
        parser.add_argument(
            "--problems-of-job", type=int, metavar="ID",
            help="Exactly the problems of an earlier job (e.g. summaries of the traces job ID made).",
        )
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE")
        parser.add_argument("--wait", action="store_true", help="Print progress until the job ends.")

    def handle(self, *args, **options) -> None:
        checkpoint = endpoint = None
        if options["checkpoint"]:
            checkpoint = Checkpoint.objects.filter(name=options["checkpoint"]).first()
            if checkpoint is None:
                raise CommandError(f"No checkpoint named {options['checkpoint']!r}; see register_checkpoint.")
        else:
            endpoint = Endpoint.objects.filter(name=options["endpoint"]).first()
            if endpoint is None:
                raise CommandError(
                    f"No endpoint named {options['endpoint']!r}; add one with add_endpoint or in the admin."
                )
        if not options["setting"] and options["kind"] not in TRACE_JOB_KINDS:
            raise CommandError(f"A {options['kind']} job needs --setting.")
        parameters = {}
        for pair in options["param"]:
            name, sep, value = pair.partition("=")
            if not sep:
                raise CommandError(f"--param takes NAME=VALUE, not {pair!r}.")
            parameters[name] = value
        parameters = jobs.keep_out_split(options["kind"], parameters, options["split"])
        try:
            problems = jobs.select_problems(
                options["dataset"], options["subset"], split=options["split"], side=options["side"],
                limit=options["limit"], per_subset=options["per_subset"], seed=options["draw_seed"],
                of_job=options["problems_of_job"],
            )
            job = jobs.launch(
                options["kind"], checkpoint, problems, options["setting"], parameters, endpoint=endpoint
            )
        except (jobs.JobError, SplitError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Launched job #{job.pk} ({job.problems.count()} problems).")
        while options["wait"] and not job.is_finished:
            time.sleep(2)
            job.refresh_from_db()
            self.stdout.write(f"  {job.status}: {job.progress_done} / {job.progress_total}")
        if options["wait"]:
            self.stdout.write(job.log)
            if job.metrics:
                self.stdout.write(json.dumps(job.metrics, indent=2))
            if job.status != Job.Status.SUCCEEDED:
                raise CommandError(f"Job #{job.pk} {job.status}. {job.error}")
