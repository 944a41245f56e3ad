"""Staff-only analysis pages: a study's report (HTML page, downloadable HTML file, or JSON) and the
models' Table 1 (HTML, JSON or CSV)."""

from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.views.decorators.http import require_http_methods

from studyapp import access, audit
from studyapp.exports import csv_chunks

from .data import gather, model_datasets, model_table_data
from .model_table import TABLE_NAMES, csv_header, csv_rows
from .models import AnalysisPlan
from .registration import in_force
from .registration import plan_document as plan_text
from .report import Options, render_html, to_json

FORMATS = ("html", "json")


@staff_member_required
@require_http_methods(["GET"])
def report(request: HttpRequest, slug: str) -> HttpResponse:
    """Query parameters: the exclusions (see report.Options.from_query) and ``format`` (html, json)."""
    study = access.study_or_404(request.user, slug, access.DATA)
    fmt = request.GET.get("format")
    if fmt is not None and fmt not in FORMATS:
        return HttpResponseBadRequest(
            f"Unknown format {fmt!r}: use format=html (a file to save) or format=json, or leave it out "
            "for the page.",
            content_type="text/plain; charset=utf-8",
        )
    audit.record(study, request.user, audit.Kind.EXPORT,
                 f"report ({fmt or 'page'}) {request.GET.urlencode()}".strip())
    from .report import build_with_scores  # numpy and scipy, loaded by the first report (report/records.py)

    data = gather(study)
    options = Options.from_query(request.GET, default=data.plan.options)
    result, scores = build_with_scores(data, options)
    if fmt == "json":
        return HttpResponse(to_json(result), content_type="application/json; charset=utf-8")
    if fmt == "html":  # a saved file: no form or links, which would do nothing there
        response = HttpResponse(render_html(result, scores))
        response["Content-Disposition"] = f'attachment; filename="analysis-{study.slug}.html"'
        return response
    query = request.GET.copy()
    query.pop("format", None)
    return HttpResponse(render_html(result, scores, query=query.urlencode()))


@staff_member_required
@require_http_methods(["GET"])
def plan_document(request: HttpRequest, slug: str) -> HttpResponse:
    """The study's analysis plan in force as a registry document (Markdown, for OSF or AsPredicted), or
    ``version=N``, with the SHA-256 stored when it was registered; a draft plan is marked not registered."""
    study = access.study_or_404(request.user, slug, access.READ_DESIGN)
    version = request.GET.get("version", "")
    if version and not version.isdigit():
        return HttpResponseBadRequest("version must be a number.", content_type="text/plain; charset=utf-8")
    plan = (get_object_or_404(AnalysisPlan, study=study, version=int(version)) if version
            else in_force(study))
    if plan is None:
        raise Http404("This study has no analysis plan.")
    response = HttpResponse(plan_text(plan), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="analysis-plan-{slug}.md"'
    if plan.registered_sha256:
        response["X-Plan-SHA256"] = plan.registered_sha256
    return response


@staff_member_required
@require_http_methods(["GET"])
def power_planner(request: HttpRequest, slug: str) -> HttpResponse:
    """The power and sample-size planner: a form for the design (the study's by default) and, when it is
    submitted (``simulate=1``), the simulated power of the planned test; ``format=json`` gives the
    result. Bad settings are refused with what is wrong (400), and nothing is simulated."""
    from . import planner  # numpy and scipy, with the simulation: loaded by the first plan asked for

    study = access.study_or_404(request.user, slug, access.READ_DESIGN)
    start, planned = planner.defaults(study)
    design, errors = planner.parse(request.GET, start)
    seed = request.GET.get("seed") or "1"
    if not seed.isdigit():
        errors.append(f"seed: {seed!r} is not a whole number")
    result = None
    if request.GET.get("simulate") and not errors:
        count, errors = planner.simulations_from(request.GET.get("simulations"), planner.PAGE_SIMULATIONS,
                                                 planner.PAGE_BUDGET, design)
        if not errors:
            result = planner.run(design, planned, count, seed=int(seed))
    status = 400 if errors else 200
    if request.GET.get("format") == "json":
        body = to_json({"errors": errors, "result": result})
        return HttpResponse(body, status=status, content_type="application/json; charset=utf-8")
    context = {"study": study, "design": design, "planned": planned, "errors": errors, "result": result,
               "simulations": request.GET.get("simulations") or planner.PAGE_SIMULATIONS, "seed": seed,
               "budget": planner.PAGE_BUDGET, "test_name": planned.test_name(design.within),
               # what was typed stays in the form, a refused value included, to be corrected
               "values": {name: request.GET.get(name) or getattr(design, name) for name in planner.SETTINGS}}
    return HttpResponse(render_to_string("analysis/power.html", context), status=status)


@staff_member_required
@require_http_methods(["GET"])
def model_table(request: HttpRequest) -> HttpResponse:
    """Table 1 of one dataset (``dataset``, default the first with evaluations) as a page, or
    ``format=json`` / ``format=csv``."""
    datasets = model_datasets()
    dataset = request.GET.get("dataset") or (datasets[0] if datasets else "cotempqa")
    fmt = request.GET.get("format")
    if fmt is not None and fmt not in ("json", "csv"):
        return HttpResponseBadRequest(
            f"Unknown format {fmt!r}: use format=json or format=csv, or leave it out for the page.",
            content_type="text/plain; charset=utf-8",
        )
    table = model_table_data(dataset)
    if fmt == "json":
        return HttpResponse(to_json(table), content_type="application/json; charset=utf-8")
    if fmt == "csv":
        response = HttpResponse(b"".join(csv_chunks(csv_header(), csv_rows(table))), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="table1-{dataset}.csv"'
        return response
    context = {"table": table, "datasets": datasets, "table_names": TABLE_NAMES}
    return HttpResponse(render_to_string("analysis/model_table.html", context))
