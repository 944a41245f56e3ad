"""The admin's side of per-study access (studyapp.access), through Django's own hooks: each study's records
are listed and opened only by its members (anything else is a 404), changed only where the role allows,
each action runs only on studies where the role allows it, and every change and action is written to the
audit trail."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from . import access, audit
from .models import Study


def needs(action: str) -> Callable:
    """Mark an admin action with the study action it needs (else the admin's ``change_action``)."""
    def mark(func: Callable) -> Callable:
        func.study_action = action
        return func
    return mark


class StudyScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin of a study's records. ``study_field`` leads from a record to its study ("pk" for
    studies themselves); members whose role allows ``view_action`` see the record, ``change_action``
    change and add it, ``delete_action`` (by default the same) delete it."""

    study_field = "study"
    view_action = access.VIEW
    change_action = access.DESIGN
    delete_action: str | None = None

    def study_of(self, obj) -> Study:
        for part in self.study_field.split("__"):
            obj = obj if part == "pk" else getattr(obj, part)
        return obj

    def _in(self, request: HttpRequest, action: str) -> dict:
        return {f"{self.study_field}__in": access.studies_for(request.user, action)}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(**self._in(request, self.view_action))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        """Another study's record (or none at all) is a 404, not the admin's redirect, which would say
        that it exists."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such record.")
        return obj

    def get_list_filter(self, request: HttpRequest):
        """The study filter offers only the studies shown (Django's lists every study)."""
        return [(f, admin.RelatedOnlyFieldListFilter) if f == self.study_field else f
                for f in super().get_list_filter(request)]

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.related_model is Study:
            kwargs["queryset"] = access.studies_for(request.user, self.change_action)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _may(self, request: HttpRequest, obj, action: str) -> bool:
        if obj is None:
            return access.studies_for(request.user, action).exists()
        return access.can(request.user, self.study_of(obj), action)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_view_permission(request, obj) and self._may(request, obj, self.view_action)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self._may(request, None, self.change_action)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may(request, obj, self.change_action)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may(request, obj, self._deleting)

    @property
    def _deleting(self) -> str:
        return self.delete_action or self.change_action

    def get_actions(self, request: HttpRequest) -> dict:
        """Each action only where some study allows it, and run only on studies that do (a selection
        reaching further is refused whole); a completed run is written to each study's audit trail."""
        scoped = {}
        for name, (func, action_name, description) in super().get_actions(request).items():
            default = self._deleting if name == "delete_selected" else self.change_action
            action = getattr(func, "study_action", default)
            if access.studies_for(request.user, action).exists():
                scoped[name] = (self._scoped_action(func, action, description), action_name, description)
        return scoped

    def _scoped_action(self, func: Callable, action: str, description: str) -> Callable:
        def run(modeladmin, request: HttpRequest, queryset: QuerySet):
            if queryset.exclude(**self._in(request, action)).exists():
                raise PermissionDenied("Your role does not allow this in every selected study.")
            studies = list(Study.objects.filter(pk__in=queryset.values(self.study_field)))
            response = func(modeladmin, request, queryset)
            if response is None:  # done (a page asking for more, such as a confirmation, is not)
                audit.record_each(studies, request.user, audit.Kind.ACTION,
                                  f"{description} ({self.model._meta.verbose_name_plural})")
            return response
        return run

    def _audit(self, request: HttpRequest, obj, what: str) -> None:
        audit.record(self.study_of(obj), request.user, audit.Kind.CHANGE,
                     f"{self.model._meta.verbose_name} “{obj}”: {what}")

    def log_addition(self, request: HttpRequest, obj, message):
        entry = super().log_addition(request, obj, message)
        self._audit(request, obj, entry.get_change_message() or "added.")
        return entry

    def log_change(self, request: HttpRequest, obj, message):
        entry = super().log_change(request, obj, message)
        self._audit(request, obj, entry.get_change_message() or "saved unchanged.")
        return entry

    def log_deletions(self, request: HttpRequest, queryset: QuerySet):
        for obj in queryset:
            self._audit(request, obj, "deleted.")
        return super().log_deletions(request, queryset)


class StudyScopedInline:
    """An inline of a study's records: added, changed and deleted only where the parent's study allows
    ``change_action``. ``study_of`` leads from the parent to its study."""

    change_action = access.DESIGN

    def study_of(self, parent) -> Study:
        return parent

    def _may(self, request: HttpRequest, parent) -> bool:
        return parent is None or access.can(request.user, self.study_of(parent), self.change_action)

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_add_permission(request, obj) and self._may(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_change_permission(request, obj) and self._may(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and self._may(request, obj)
