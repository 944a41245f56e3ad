"""The site's URLs: the admin, the study app's participant and monitor pages, the analysis pages and the
researchers' API."""

from django.contrib import admin
from django.urls import include, path

from studyapp import views

# Django's own 400 handler runs the CSRF check, which reads the body again: a body Django refused to
# read (a form that is not UTF-8) then turned the 400 into a 500.
handler400 = views.bad_request
# A missing page in the browser's language (Django's own is a line of English).
handler404 = views.not_found
# Django's own 500 page, in the browser's language (a participant's, as far as their browser says).
handler500 = views.server_error

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("study/", include("studyapp.urls")),
    path("analysis/", include("analysis.urls")),
    # DRF's sign-in page for the browsable API and the docs: researchers who are not staff have no
    # admin login. Outside the "api" namespace, where the browsable API looks for "rest_framework:login".
    path("api/v1/auth/", include("rest_framework.urls")),
    path("api/v1/", include("tracestudy.api_urls")),
]
