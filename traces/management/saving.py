"""Saving what a management command made, refused in words when the model's validation fails."""

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import models


def save_validated(instance: models.Model) -> None:
    """``full_clean`` then save; a CommandError naming each field's problem, and nothing saved, when
    validation fails (as the admin would refuse the same values)."""
    try:
        instance.full_clean()
    except ValidationError as error:
        raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from error
    instance.save()
