"""The researchers' analysis report: /analysis/<slug>/ (staff only)."""

from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("<slug:slug>/", views.report, name="report"),
]
