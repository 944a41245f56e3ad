import json

from django.core.management.base import BaseCommand, CommandError

from traces.management.saving import save_validated
from traces.models import Endpoint


class Command(BaseCommand):
    help = (
        "Add an OpenAI-compatible chat server (vLLM, SGLang, transformers serve, DeepSeek's or OpenAI's API) "
        "as an endpoint that jobs can run on. The API key stays out of the database: name the environment "
        "variable that holds it on the workers. Example: add_endpoint deepseek --base-url "
        "https://api.deepseek.com/v1 --model deepseek-reasoner --key-variable DEEPSEEK_API_KEY"
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")
        parser.add_argument("--base-url", required=True, help="Up to /v1, e.g. http://gpu-node-3:8000/v1.")
        parser.add_argument("--model", required=True, help="The model name the server knows.")
        parser.add_argument(
            "--key-variable", default="",
            help="The NAME of the environment variable holding the API key on the workers (not the key).",
        )
        parser.add_argument("--max-concurrency", type=int, help="Requests in flight at once (default 8).")
        parser.add_argument("--max-retries", type=int, help="Retries with back-off (default 8).")
        parser.add_argument("--timeout", type=int, help="Seconds one request may take (default 900).")
        parser.add_argument(
            "--extra-body", default="",
            help="JSON sent with every request, e.g. "
            '\'{"chat_template_kwargs": {"enable_thinking": true}}\'.',
        )
        parser.add_argument("--replace", action="store_true", help="Change the endpoint of that name.")

    def handle(self, *args, name: str, **options) -> None:
        existing = Endpoint.objects.filter(name=name).first()
        if existing is not None and not options["replace"]:
            raise CommandError(
                f"An endpoint named {name!r} exists ({existing.base_url}, model {existing.model}); "
                "give --replace to change it, or choose another name."
            )
        endpoint = existing or Endpoint(name=name)
        endpoint.base_url, endpoint.model = options["base_url"], options["model"]
        endpoint.api_key_env = options["key_variable"]
        for option, field in (("max_concurrency", "max_concurrency"), ("max_retries", "max_retries"),
                              ("timeout", "timeout_s")):
            if options[option] is not None:
                setattr(endpoint, field, options[option])
        if options["extra_body"]:
            try:
                endpoint.extra_body = json.loads(options["extra_body"])
            except json.JSONDecodeError as error:
                raise CommandError(f"--extra-body is not valid JSON: {error}") from error
        save_validated(endpoint)
        key = f", key from ${endpoint.api_key_env}" if endpoint.api_key_env else ", no key"
        done = "Changed" if existing else "Added"
        self.stdout.write(
            f"{done} endpoint {name}: {endpoint.base_url}, model {endpoint.model}{key}, "
            f"{endpoint.max_concurrency} requests at once."
        )
