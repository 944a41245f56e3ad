"""The backend a job's model answers through: its endpoint, or its checkpoint on this worker."""

from __future__ import annotations

from .. import modeling
from ..job_parameters import JobParameters
from ..models import Job
from .local import LocalBackend
from .openai_compatible import EndpointBackend, EndpointConfig


def backend_for(job: Job, parameters: JobParameters) -> LocalBackend | EndpointBackend:
    """The job's model: its endpoint, or its checkpoint loaded on this worker."""
    settings = parameters.decoding
    if job.endpoint_id is not None:
        e = job.endpoint
        return EndpointBackend(
            EndpointConfig(e.base_url, e.model, e.api_key_env, e.max_concurrency, e.max_retries, e.timeout_s,
                           e.extra_body),
            settings,
        )
    return LocalBackend(
        *job.checkpoint.model_paths(), settings, template_options(parameters), parameters.batch_size
    )


def model_source(job: Job) -> dict:
    """Where the job's model is, for provenance (never a key)."""
    if job.endpoint_id is not None:
        return {"endpoint": job.endpoint.name, "base_url": job.endpoint.base_url, "model": job.endpoint.model}
    return {"checkpoint": job.checkpoint.name, "checkpoint_path": job.checkpoint.path}


def template_options(parameters: JobParameters) -> modeling.TemplateOptions:
    """The chat template's variables for the job's prompts (the date is always the fixed one)."""
    return modeling.TemplateOptions(enable_thinking=parameters.enable_thinking)
