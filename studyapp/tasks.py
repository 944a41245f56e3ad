"""Celery tasks of the study app, on the default queue: the Prolific sync, every PROLIFIC_SYNC_EVERY_S by
Celery beat, the calls to Prolific that researchers queue from the admin, and pilot runs asked for there."""

import logging

from celery import shared_task

from . import pilot, prolific_actions
from .models import Study
from .prolific import ProlificClient, ProlificError
from .prolific_sync import sync_study

logger = logging.getLogger(__name__)


@shared_task(name="studyapp.sync_prolific", ignore_result=True)
def sync_prolific() -> dict:
    """Sync every live or paused study that names its Prolific study; nothing without a token."""
    studies = Study.objects.exclude(prolific_study_id="").exclude(status=Study.Status.DRAFT)
    try:
        client = ProlificClient()
    except ProlificError as error:
        if studies.exists():
            logger.warning("Prolific sync skipped: %s", error)
        return {}
    done = {}
    for study in studies:
        try:
            result = sync_study(study, client)
        except ProlificError as error:
            logger.warning("Prolific sync of %s failed: %s", study.slug, error)
            continue
        done[study.slug] = {
            "checked": result.checked, "freed": len(result.freed), "flagged": len(result.flagged),
        }
        if result.freed or result.flagged:
            logger.info("Prolific sync of %s: %d places re-opened, %d arrivals flagged",
                        study.slug, len(result.freed), len(result.flagged))
    return done


@shared_task(name=prolific_actions.SEND_TASK, ignore_result=True)
def send_prolific_action(action_id: int) -> None:
    """Make one call a researcher queued from the admin and keep its outcome (prolific_actions.perform)."""
    prolific_actions.perform(action_id)


@shared_task(name=pilot.PILOT_TASK, ignore_result=True)
def run_pilot(pilot_id: int) -> None:
    """Walk the bots of a pilot run asked for in the admin and record them (``pilot.run_requested``)."""
    pilot.run_requested(pilot_id)
