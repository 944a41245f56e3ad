from django.apps import AppConfig


class StudyAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "studyapp"
    verbose_name = "Study"

    def ready(self) -> None:
        from . import (  # noqa: F401 - imported for their side effects:
            checks,  # registers the deployment checks
            content,  # connects the signals that keep the content cache current
            study_setup,  # answers study_going_live: what stops a study from going live
        )
