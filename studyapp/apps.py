from django.apps import AppConfig


class StudyAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "studyapp"
    verbose_name = "Study"

    def ready(self) -> None:
        from . import content  # noqa: F401 - connects the signals that keep the content cache current
