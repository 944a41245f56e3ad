"""Site URLs: the admin, and the study app's participant and monitor pages."""

from django.contrib import admin
from django.urls import include, path

from . import views

study_patterns = [
    path("<slug:slug>/", views.entry, name="entry"),
    path("<slug:slug>/preview/", views.preview, name="preview"),
    path("<slug:slug>/monitor/", views.monitor, name="monitor"),
    path("<slug:slug>/p/<uuid:token>/<str:page>/", views.page, name="page"),
]

# Django's own 400 handler runs the CSRF check, which reads the body again: a body Django refused to
# read (a form that is not UTF-8) then turned the 400 into a 500.
handler400 = views.bad_request

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("study/", include((study_patterns, "studyapp"))),
    path("analysis/", include("analysis.urls")),
    # DRF's sign-in page for the browsable API and the docs: researchers who are not staff have no
    # admin login. Outside the "api" namespace, where the browsable API looks for "rest_framework:login".
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/v1/", include("studyapp.api_urls")),
]
