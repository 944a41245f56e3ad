from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "analysis"
    verbose_name = "Analysis"

    def ready(self) -> None:
        """The analysis plan is part of the study file (studyapp.spec), which never imports this app."""
        from studyapp.spec import sections

        from .study_spec import SECTION

        sections.register(SECTION)
