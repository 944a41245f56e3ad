"""URLs of the researchers' API, mounted at ``/api/v1/``: one URL per study and export. A study is
matched as a slug (what a study's name is), so text no study can have (a NUL byte, which PostgreSQL
refuses) never reaches a query; any URL not matched here, an unknown or impossible study's included,
is the API's JSON 404, not the site's HTML page."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analysis.api import ModelTableView
from studyapp import api

app_name = "api"


urlpatterns = [
    path("", api.ApiRoot.as_view(), name="root"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[api.IsResearcher]), name="schema"),
    # Swagger UI's files come from drf-spectacular-sidecar (settings.SPECTACULAR_SETTINGS): no CDN; the
    # split view serves its start-up script as a file, so the Content-Security-Policy needs no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema", permission_classes=[api.IsResearcher]),
        name="docs",
    ),
    path("studies/", api.StudyList.as_view(), name="study-list"),
    path("studies/<slug:slug>/", api.StudyDetail.as_view(), name="study-detail"),
    path("studies/<slug:slug>/participants/", api.ParticipantsExport.as_view(), name="participants"),
    path("studies/<slug:slug>/responses/", api.ResponsesExport.as_view(), name="responses"),
    path("studies/<slug:slug>/responses/wide/", api.WideResponsesExport.as_view(), name="responses-wide"),
    path("studies/<slug:slug>/page-times/", api.PageTimesExport.as_view(), name="page-times"),
    path("studies/<slug:slug>/judgements/", api.JudgementsExport.as_view(), name="judgements"),
    path("studies/<slug:slug>/stimuli/", api.StimuliExport.as_view(), name="stimuli"),
    path("studies/<slug:slug>/texts/", api.TextsExport.as_view(), name="texts"),
    path("studies/<slug:slug>/codebook/", api.CodebookView.as_view(), name="codebook"),
    path("studies/<slug:slug>/spec/", api.StudySpecView.as_view(), name="spec"),
    path("studies/<slug:slug>/psych-ds/", api.PsychDSExport.as_view(), name="psych-ds"),
    path("model-table/", ModelTableView.as_view(), name="model-table"),
    # last: any text (newlines too) ending in a slash, so that APPEND_SLASH still sends /api/v1/studies
    # to /api/v1/studies/
    re_path(r"^[\s\S]*/\Z", api.NoSuchEndpoint.as_view()),
]
