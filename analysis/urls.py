"""The researchers' analysis pages (staff only): /analysis/<slug>/, a study's report, and
/analysis/models/table/, the models' Table 1 (two path segments, so that no study slug takes it)."""

from django.urls import path

from . import views

app_name = "analysis"
urlpatterns = [
    path("models/table/", views.model_table, name="model-table"),
    path("<slug:slug>/", views.report, name="report"),
    path("<slug:slug>/plan/", views.plan_document, name="plan-document"),
    path("<slug:slug>/power/", views.power_planner, name="power-planner"),
]
