"""The admin's download of a study's file (on the study's page) and upload of one (on the studies'
list): the same reader and writer as ``manage.py study_spec``."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path

from .. import access, audit
from .checking import InvalidSpec
from .exporting import dumps, export_study
from .importing import import_study


class StudyFileForm(forms.Form):
    file = forms.FileField(help_text="A study file (JSON), as the download on a study's page writes it.")
    slug = forms.SlugField(
        required=False, help_text="Create the study under this slug instead of the file's (to copy a study)."
    )


class StudyFileAdminMixin:
    """For StudyAdmin: its pages for study files."""

    def get_urls(self) -> list:
        site = self.admin_site
        return [
            path("<int:pk>/study-file/", site.admin_view(self.download_study_file),
                 name="studyapp_study_download_file"),
            path("import-study-file/", site.admin_view(self.upload_study_file),
                 name="studyapp_study_upload_file"),
            *super().get_urls(),
        ]

    def download_study_file(self, request: HttpRequest, pk: int) -> HttpResponse:
        study = self.get_object(request, str(pk))  # another team's study is a 404
        if not self.has_view_permission(request, study):
            raise PermissionDenied
        access.require(request.user, study, access.READ_DESIGN)
        response = HttpResponse(dumps(export_study(study)), content_type="application/json; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{study.slug}.study.json"'
        return response

    def upload_study_file(self, request: HttpRequest) -> HttpResponse:
        """Create a study (a draft) from an uploaded file; a file with anything wrong changes nothing and
        comes back with each problem, its field and its line."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = StudyFileForm(request.POST or None, request.FILES or None)
        problems = []
        if request.method == "POST" and form.is_valid():
            upload, slug = form.cleaned_data["file"], form.cleaned_data["slug"] or None
            try:
                imported = import_study(upload.read(), slug=slug, user=request.user)
            except InvalidSpec as invalid:
                problems = invalid.errors
            else:
                study = imported.study
                access.make_owner(request.user, study)
                audit.record(study, request.user, audit.Kind.CHANGE,
                             f"created from the study file {upload.name}")
                self.message_user(request, f"Created {study.slug} (a draft) from {upload.name}.",
                                  messages.SUCCESS)
                for warning in imported.warnings:
                    self.message_user(request, warning, messages.WARNING)
                return redirect("admin:studyapp_study_change", study.pk)
        context = {**self.admin_site.each_context(request), "form": form, "problems": problems,
                   "file_name": request.FILES["file"].name if "file" in request.FILES else "",
                   "title": "Import a study file", "opts": self.model._meta}
        status = 400 if form.errors or problems else 200
        return render(request, "admin/studyapp/study/import_study_file.html", context, status=status)
