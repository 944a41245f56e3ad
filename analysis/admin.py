"""The analysis plan in the admin: written and registered before data come in, read-only after."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from studyapp import access
from studyapp.admin_access import StudyScopedAdmin

from .models import AnalysisPlan
from .registration import register, revise, timing


@admin.register(AnalysisPlan)
class AnalysisPlanAdmin(StudyScopedAdmin):
    list_display = ("study", "version", "primary_test", "pairwise", "equivalence_margin", "registered_at")
    readonly_fields = ("version", "registered_at", "registration", "registered_sha256", "document")
    actions = ["register_plans", "revise_plans"]
    view_action = access.READ_DESIGN
    fieldsets = [
        (None, {"fields": ("study", "version", "deviation", "notes")}),
        ("Registration", {"fields": ("registered_at", "registration", "registered_sha256", "document")}),
        ("Confirmatory test", {"fields": ("primary_outcomes", "primary_test", "pairwise", "alpha",
                                          "equivalence_margin")}),
        ("Exclusions", {"fields": ("exclude_failed_attention", "exclude_speeders", "speeder_seconds",
                                   "exclude_straightliners", "straightline_scope")}),
        ("Exclusions by paradata", {"fields": ("exclude_left_page", "left_page_seconds", "exclude_pasted",
                                               "exclude_copied", "exclude_automated"),
                                    "description": "Off by default: the report runs each rule left off as a "
                                                   "sensitivity analysis wherever it flags anyone."}),
    ]

    @admin.display(description="Registration")
    def registration(self, obj: AnalysisPlan) -> str:
        """When it was registered and what data had come in by then: a late registration says so."""
        return timing(obj)

    @admin.display(description="For a registry")
    def document(self, obj: AnalysisPlan) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}">the plan as a document (Markdown, for OSF or AsPredicted)</a>',
                           reverse("analysis:plan-document", args=[obj.study.slug]))

    def has_change_permission(self, request: HttpRequest, obj: AnalysisPlan | None = None) -> bool:
        """A registered plan is shown, never edited."""
        if obj is not None and obj.registered_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: AnalysisPlan | None = None) -> bool:
        if obj is not None and obj.registered_at is not None:
            return False
        return super().has_delete_permission(request, obj)

    @admin.action(description="Register the selected plans (time-stamped; they cannot change afterwards)",
                  permissions=["change"])
    def register_plans(self, request: HttpRequest, queryset: QuerySet) -> None:
        for plan in queryset:
            try:
                register(plan)
            except ValidationError as problem:
                self.message_user(request, f"{plan.study}: not registered: {' '.join(problem.messages)}",
                                  messages.ERROR)
                continue
            self.message_user(request, f"{plan.study}: registered {plan.registered_at:%Y-%m-%d %H:%M} UTC.",
                              messages.SUCCESS)

    @admin.action(description="Start a new version of the selected registered plans (shown as a deviation)",
                  permissions=["change"])
    def revise_plans(self, request: HttpRequest, queryset: QuerySet) -> None:
        for plan in queryset:
            try:
                copy = revise(plan)
            except ValidationError as problem:
                self.message_user(request, f"{plan.study}: {' '.join(problem.messages)}", messages.ERROR)
                continue
            self.message_user(request, f"{plan.study}: version {copy.version} made, a draft: change it, say "
                              "why in its Deviation field, and register it.", messages.SUCCESS)
