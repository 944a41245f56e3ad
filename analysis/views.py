"""Staff-only analysis report of a study: HTML page, downloadable HTML file, or JSON."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_http_methods

from studyapp.models import Study

from .data import gather
from .report import Options, build_with_scores, render_html, to_json

FORMATS = ("html", "json")


@staff_member_required
@require_http_methods(["GET"])
def report(request: HttpRequest, slug: str) -> HttpResponse:
    """Query parameters: the exclusions (see report.Options.from_query) and ``format`` (html, json)."""
    study = get_object_or_404(Study, slug=slug)
    fmt = request.GET.get("format")
    if fmt is not None and fmt not in FORMATS:
        return HttpResponseBadRequest(
            f"Unknown format {fmt!r}: use format=html (a file to save) or format=json, or leave it out "
            "for the page.",
            content_type="text/plain; charset=utf-8",
        )
    options = Options.from_query(request.GET)
    result, scores = build_with_scores(gather(study), options)
    if fmt == "json":
        return HttpResponse(to_json(result), content_type="application/json; charset=utf-8")
    if fmt == "html":  # a saved file: no form or links, which would do nothing there
        response = HttpResponse(render_html(result, scores))
        response["Content-Disposition"] = f'attachment; filename="analysis-{study.slug}.html"'
        return response
    query = request.GET.copy()
    query.pop("format", None)
    return HttpResponse(render_html(result, scores, query=query.urlencode()))
