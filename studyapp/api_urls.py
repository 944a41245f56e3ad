"""URLs of the researchers' API, mounted at ``/api/v1/``: one URL per study and export. A study is
matched as any text (``str``), so an unknown one is the API's JSON 404, not the site's HTML page."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from analysis.api import ModelTableView

from . import api

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
    path("studies/<str:slug>/", api.StudyDetail.as_view(), name="study-detail"),
    path("studies/<str:slug>/participants/", api.ParticipantsExport.as_view(), name="participants"),
    path("studies/<str:slug>/responses/", api.ResponsesExport.as_view(), name="responses"),
    path("studies/<str:slug>/responses/wide/", api.WideResponsesExport.as_view(), name="responses-wide"),
    path("studies/<str:slug>/page-times/", api.PageTimesExport.as_view(), name="page-times"),
    path("studies/<str:slug>/stimuli/", api.StimuliExport.as_view(), name="stimuli"),
    path("studies/<str:slug>/texts/", api.TextsExport.as_view(), name="texts"),
    path("studies/<str:slug>/codebook/", api.CodebookView.as_view(), name="codebook"),
    path("model-table/", ModelTableView.as_view(), name="model-table"),
]
