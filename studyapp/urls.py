"""The study app's pages, mounted at ``/study/``: a study's entry link, preview, monitor, and a
participant's pages."""

from django.urls import path

from . import views

app_name = "studyapp"

urlpatterns = [
    path("<slug:slug>/", views.entry, name="entry"),
    path("<slug:slug>/preview/", views.preview, name="preview"),
    path("<slug:slug>/monitor/", views.monitor, name="monitor"),
    path("<slug:slug>/p/<uuid:token>/<str:page>/", views.page, name="page"),
]
