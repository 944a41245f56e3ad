"""The researchers' API for the model side: Table 1 of a dataset, as JSON or CSV."""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from studyapp import access
from studyapp.api import CSV_BODY, FORMAT_PARAMETER, ResearcherAPIView, scoped_token
from studyapp.exports import csv_chunks

from .data import model_datasets, model_table_data
from .model_table import csv_header, csv_rows


class ModelTableView(ResearcherAPIView):
    """Table 1 of the paper for one dataset: per model, setting and relation the answer metrics and
    the step accuracies under the published, the authors' intended and the strict definitions, the
    answer x step tables with their tests, and the evaluations it comes from (docs/model-side/metrics.md)."""

    @extend_schema(
        summary="Table 1 of a dataset",
        parameters=[
            OpenApiParameter("dataset", str, required=True, allow_blank=False,
                             description="A dataset with evaluations: cotempqa or babi (404 otherwise)."),
            FORMAT_PARAMETER,
        ],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): CSV_BODY},
    )
    def get(self, request: Request):
        access.require_shared(request.user, scoped_token(request))
        dataset = request.query_params.get("dataset", "")
        known = model_datasets()
        if dataset not in known:
            listed = ", ".join(known) or "none"
            message = f"Unknown dataset {dataset!r}; datasets with evaluations: {listed}."
            raise NotFound(message)
        table = model_table_data(dataset)
        if request.accepted_renderer.format == "csv":
            body = b"".join(csv_chunks(csv_header(), csv_rows(table)))
            response = HttpResponse(body, content_type="text/csv")
            response["Content-Disposition"] = f'attachment; filename="table1-{dataset}.csv"'
            return response
        return Response(table)
