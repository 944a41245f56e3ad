"""The researchers' API (``/api/v1/``): a study's participants, responses, page times, codebook and
study file.

Who may read: researchers (staff, members of the researchers group ``settings.RESEARCHERS_GROUP``, and
members of some study), each only the studies whose role allows it (studyapp.access): another team's study
is a 404, as is a study a scoped token is not for. Anyone else gets 401 (not authenticated) or 403.
Scripts authenticate with a token (``Authorization: Token <key>``): a scoped one made in the admin
(studyapp.tokens), or an account's own; browsers with a session from DRF's sign-in page at
``/api/v1/auth/login/`` (researchers need not be staff, so the admin login is not theirs) or the admin.
Every export is written to the study's audit trail.

Formats: JSON, or CSV with ``?format=csv`` or ``Accept: text/csv``.

Streaming. The data exports (participants, responses long and wide, page times) are streamed in both
formats, row batch by row batch, from the same generators in :mod:`studyapp.exports`; JSON is one
array of objects written as it goes. We chose a streaming JSON array over cursor pagination because
the exports are read whole (into R, pandas or SPSS), not browsed page by page: one request gives the
complete, consistent table as CSV does, with no paging loop in every client, no page boundaries to
keep stable while participants are still answering, and the same bounded memory on the server.
The views stay thin: they check the filters, pick the table and format, and hand over.
"""

from django.http import HttpResponse, HttpResponseBase
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import access, audit, exports, spec
from .models import (
    CONFIDENCE_POINTS,
    LIKERT_MAX,
    SCALE_POINTS,
    Item,
    Participant,
    Study,
    StudyToken,
    TraceKind,
    TrialTask,
    TruthDefinition,
)
from .psychds import package as psychds_package
from .psychds.describe import DatasetInfo

# --- permissions -------------------------------------------------------------------------------


class IsResearcher(BasePermission):
    """Staff, an active member of the researchers group, or a member of some study (access.is_researcher);
    never anonymous users or anyone else. Which studies each reads is access's to say."""

    message = "Only researchers (staff, the researchers group, a study's members) may read study data."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return access.is_researcher(request.user)


def scoped_token(request: Request) -> StudyToken | None:
    """The scoped token the request came with (None: a session or an account's own token)."""
    return request.auth if isinstance(request.auth, StudyToken) else None


# --- renderers ---------------------------------------------------------------------------------


def _flat(row: dict) -> dict:
    """One CSV cell per value: a nested object's entries become columns ``<key>_<entry>`` (the study's
    ``exports`` links: ``exports_participants`` …), a list is joined with ";"."""
    cells = {}
    for key, value in row.items():
        if isinstance(value, dict):
            cells.update({exports.column_name(f"{key}_{k}"): v for k, v in value.items()})
        else:
            cells[key] = ";".join(map(str, value)) if isinstance(value, list) else value
    return cells


class CSVRenderer(BaseRenderer):
    """``text/csv`` for content negotiation (``?format=csv`` or ``Accept: text/csv``).

    The exports write their CSV themselves (streamed); this renders the small, non-streamed
    answers (the studies) with the same writer, one flat row per object.
    """

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        rows = [_flat(row) for row in (data if isinstance(data, list) else [data])]
        header = list(rows[0]) if rows else []
        return b"".join(exports.csv_chunks(header, (tuple(row.values()) for row in rows)))


class ResearcherAPIView(APIView):
    permission_classes = [IsResearcher]
    renderer_classes = [JSONRenderer, BrowsableAPIRenderer, CSVRenderer]
    #: what the account's role (and token's) must allow in the study of the URL
    study_action = access.DATA

    def study(self, slug: str) -> Study:
        """The URL's study, if the account (and its token) may do ``study_action`` in it: else 404, or 403
        where it may see the study but not this."""
        return access.study_or_404(self.request.user, slug, self.study_action, scoped_token(self.request))

    def exported(self, study: Study, what: str) -> None:
        """Write the export to the study's audit trail."""
        query = self.request.query_params.urlencode()
        audit.record(study, self.request.user, audit.Kind.EXPORT, f"API: {what} {query}".strip())

    def perform_content_negotiation(self, request, force=False):
        """``format`` must name a format: an empty or unknown one is a 400 saying which there are
        (DRF answered 404, or ignored an empty one)."""
        given = request.query_params.get("format")
        formats = {r.format for r in self.renderer_classes}
        permitted = all(p.has_permission(request, self) for p in self.get_permissions())  # else 401/403 first
        if not force and permitted and given is not None and given not in formats:
            documented = sorted(formats - {"api"})
            message = f"{given!r} is not a format here; use one of {', '.join(documented)}."
            raise ValidationError({"format": message})
        return super().perform_content_negotiation(request, force)

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors (401, 403, 400, 404) are JSON, also when CSV was asked for; a browser gets the browsable
        # API's page, whose "Log in" link (/api/v1/auth/login/) is how a researcher signs in.
        browser = isinstance(getattr(request, "accepted_renderer", None), BrowsableAPIRenderer)
        if isinstance(response, Response) and response.exception and not browser:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


# --- serializers -------------------------------------------------------------------------------


class ExportFilterSerializer(serializers.Serializer):
    """The query parameters that choose which participants a data export covers."""

    condition = serializers.SlugField(
        required=False, help_text="Only this condition's participants (its code, as the study names it); "
        "between-participants studies only, since within participants everyone reads every condition.",
    )
    status = serializers.ChoiceField(
        choices=Participant.Status.choices, required=False, help_text="Only participants with this status."
    )
    completed = serializers.BooleanField(
        required=False, default=False, help_text="1: only participants who completed the study."
    )
    include_previews = serializers.BooleanField(
        required=False, default=False, help_text="1: include researchers' preview runs (excluded by default)."
    )

    def validate(self, attrs: dict) -> dict:
        """An empty or unknown parameter is an error, not a silent "no filter": ``condition=`` with
        nothing after it, or ``conditon=r1``, would otherwise export every participant."""
        given = getattr(self, "initial_data", {}) or {}
        errors = {
            name: "Empty: give a value or leave the parameter out."
            for name in self.fields if name in given and given.get(name, "") == ""
        }
        unknown = sorted(set(given) - set(self.fields) - {"format"})
        listed = ", ".join(self.fields)
        errors.update({name: f"Unknown parameter; the filters are {listed}." for name in unknown})
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def to_filter(self) -> exports.ParticipantFilter:
        data = self.validated_data
        return exports.ParticipantFilter(
            condition=data.get("condition"), status=data.get("status"),
            completed_only=data["completed"], include_previews=data["include_previews"],
        )


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 in UTC as the exports write it (``+00:00``), not DRF's ``Z``: one form in every file."""

    def to_representation(self, value):
        return exports.iso(value)


class StudySerializer(serializers.ModelSerializer):
    created_at = UTCDateTimeField(read_only=True)
    conditions = serializers.SerializerMethodField()
    exports = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "slug", "title", "status", "design", "target_per_condition", "trials_per_participant",
            "time_limit_minutes", "created_at", "conditions", "exports",
        ]

    def get_conditions(self, study: Study) -> list[str]:
        return [c.code for c in study.conditions.all()]

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string", "format": "uri"}})
    def get_exports(self, study: Study) -> dict[str, str]:
        request = self.context.get("request")
        urls = {name: reverse(f"api:{name}", args=[study.slug]) for name in EXPORT_URL_NAMES}
        return {name: request.build_absolute_uri(url) if request else url for name, url in urls.items()}


# Row schemas: documentation of the JSON exports (the rows themselves come from exports.py).


class ParticipantRowSerializer(serializers.Serializer):
    study = serializers.CharField()
    participant_id = serializers.IntegerField()
    prolific_pid = serializers.CharField()
    prolific_study_id = serializers.CharField()
    prolific_session_id = serializers.CharField()
    design = serializers.ChoiceField(choices=Study.Design.choices)
    condition = serializers.CharField(allow_null=True, help_text="Condition code; null within participants.")
    trial_conditions = serializers.CharField(help_text="Each trial's condition code, separated by ;.")
    stimulus_list = serializers.IntegerField(allow_null=True, help_text="The counterbalancing list drawn.")
    condition_order = serializers.IntegerField(
        allow_null=True, help_text="Within participants: the Latin square's row; null between."
    )
    status = serializers.ChoiceField(choices=Participant.Status.choices)
    is_preview = serializers.IntegerField(help_text="1 or 0.")
    test_run = serializers.IntegerField(help_text="1 or 0; a test run is a preview too.")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    pages_done = serializers.IntegerField()
    consented_at = serializers.DateTimeField(allow_null=True)
    attention_checks = serializers.CharField(help_text="trial:position of each check, separated by ;.")
    attention_failures = serializers.IntegerField()
    attention_passed = serializers.IntegerField(allow_null=True, help_text="1, 0 or null.")
    practice_stimulus = serializers.CharField(allow_null=True)
    device_class = serializers.ChoiceField(choices=["phone", "tablet", "desktop"], allow_null=True)
    viewport_width = serializers.IntegerField(allow_null=True)
    language = serializers.CharField(help_text="The language the participant read the study in (en, de …).")
    comment = serializers.CharField()
    away_count_total = serializers.IntegerField(allow_null=True, help_text="Paradata: null if unmeasured.")
    away_ms_total = serializers.IntegerField(allow_null=True)
    paste_count_total = serializers.IntegerField(allow_null=True)
    copy_count_total = serializers.IntegerField(allow_null=True)
    key_count_total = serializers.IntegerField(allow_null=True)
    pointer_count_total = serializers.IntegerField(allow_null=True)
    automated_any = serializers.IntegerField(allow_null=True, help_text="1, 0 or null.")


class ResponseRowSerializer(serializers.Serializer):
    study = serializers.CharField()
    participant_id = serializers.IntegerField()
    prolific_pid = serializers.CharField()
    condition = serializers.CharField(
        allow_null=True, help_text="The condition code of the row's trial; end-of-study items: the "
        "participant's (null within participants).",
    )
    is_preview = serializers.IntegerField(help_text="1 or 0.")
    trial = serializers.IntegerField(allow_null=True, help_text="Null for end-of-study items and practice.")
    practice = serializers.IntegerField(help_text="1 for the practice problem, else 0.")
    stimulus = serializers.CharField(allow_null=True, help_text="Null for end-of-study items.")
    stimulus_list = serializers.IntegerField(
        allow_null=True, help_text="The participant's counterbalancing list."
    )
    construct = serializers.CharField()
    item = serializers.CharField()
    value = serializers.IntegerField(
        min_value=1, max_value=LIKERT_MAX, help_text="1 to the item's scale points."
    )
    position = serializers.IntegerField()
    time_on_page_ms = serializers.IntegerField(allow_null=True)
    trace_visible_ms = serializers.IntegerField(allow_null=True)
    trace_end_seen = serializers.IntegerField(allow_null=True, help_text="1 or 0.")
    trace_end_first_seen_ms = serializers.IntegerField(allow_null=True)
    trace_end_visible_ms = serializers.IntegerField(allow_null=True)
    trace_scroll_depth = serializers.FloatField(allow_null=True, help_text="Deprecated: no longer measured.")
    trace_version = serializers.IntegerField(allow_null=True, help_text="The version of the texts read.")
    steps_shown = serializers.IntegerField(allow_null=True, help_text="Step rating: the trace's steps.")
    first_wrong_step = serializers.IntegerField(allow_null=True, help_text="Step rating: the mark (0: none).")
    first_wrong_step_truth = serializers.IntegerField(allow_null=True, help_text="The graded first wrong.")
    first_wrong_step_correct = serializers.IntegerField(allow_null=True, help_text="1, 0 or null.")
    submitted_at = serializers.DateTimeField()


class PageTimeRowSerializer(serializers.Serializer):
    study = serializers.CharField()
    participant_id = serializers.IntegerField()
    prolific_pid = serializers.CharField()
    condition = serializers.CharField(
        allow_null=True, help_text="The condition of the page's text; other pages: the participant's "
        "(null within participants).",
    )
    page = serializers.CharField()
    trial = serializers.IntegerField(allow_null=True)
    stimulus = serializers.CharField(allow_null=True)
    first_shown_at = serializers.DateTimeField(allow_null=True)
    last_shown_at = serializers.DateTimeField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    seconds_on_page = serializers.FloatField(allow_null=True)
    trace_visible_ms = serializers.IntegerField(allow_null=True)
    trace_end_seen = serializers.IntegerField(allow_null=True, help_text="1 or 0.")
    trace_end_first_seen_ms = serializers.IntegerField(allow_null=True)
    trace_end_visible_ms = serializers.IntegerField(allow_null=True)
    trace_scroll_depth = serializers.FloatField(allow_null=True, help_text="Deprecated: no longer measured.")
    trace_version = serializers.IntegerField(allow_null=True, help_text="The version of the texts shown.")
    steps_shown = serializers.IntegerField(allow_null=True, help_text="Step rating: the trace's steps.")
    first_wrong_step = serializers.IntegerField(allow_null=True, help_text="Step rating: the mark (0: none).")
    first_wrong_step_truth = serializers.IntegerField(allow_null=True, help_text="The graded first wrong.")
    first_wrong_step_correct = serializers.IntegerField(allow_null=True, help_text="1, 0 or null.")
    away_count = serializers.IntegerField(allow_null=True, help_text="Paradata: null if unmeasured.")
    away_ms = serializers.IntegerField(allow_null=True)
    paste_count = serializers.IntegerField(allow_null=True)
    copy_count = serializers.IntegerField(allow_null=True)
    key_count = serializers.IntegerField(allow_null=True)
    pointer_count = serializers.IntegerField(allow_null=True)
    automated = serializers.IntegerField(allow_null=True, help_text="1, 0 or null.")
    automation_signals = serializers.CharField(allow_null=True, help_text="Separated by ;.")


class JudgementRowSerializer(serializers.Serializer):
    study = serializers.CharField()
    participant_id = serializers.IntegerField()
    prolific_pid = serializers.CharField()
    is_preview = serializers.IntegerField(help_text="1 or 0.")
    stimulus_id = serializers.IntegerField()
    stimulus = serializers.CharField()
    trial = serializers.IntegerField(allow_null=True, help_text="Null for the practice problem.")
    practice = serializers.IntegerField(help_text="1 for the practice problem, else 0.")
    condition = serializers.CharField()
    task = serializers.ChoiceField(choices=[TrialTask.VERIFICATION, TrialTask.SIMULATION])
    choice = serializers.CharField(help_text="yes/no (verification); the candidate chosen, empty for none of "
                                   "these (simulation).")
    correct = serializers.IntegerField(help_text="1 or 0: the choice matches the ground truth.")
    truth = serializers.CharField(help_text="yes/no (verification); the model's answer (simulation).")
    confidence = serializers.IntegerField(min_value=1, max_value=CONFIDENCE_POINTS)
    server_ms = serializers.IntegerField(allow_null=True)
    choice_ms = serializers.IntegerField(allow_null=True)
    options_shown = serializers.CharField(allow_null=True, help_text="JSON list of the candidates, in order.")
    submitted_at = serializers.DateTimeField()
    truth_definition = serializers.ChoiceField(choices=TruthDefinition.choices)
    answer_correct = serializers.IntegerField(allow_null=True, help_text="1, 0 or null (not graded).")
    trace_correct = serializers.IntegerField(allow_null=True, help_text="1, 0 or null (not graded).")
    grades_source = serializers.CharField(allow_null=True)


class StimulusRowSerializer(serializers.Serializer):
    study = serializers.CharField()
    stimulus_id = serializers.IntegerField()
    stimulus = serializers.CharField()
    is_practice = serializers.IntegerField(help_text="1 or 0.")
    condition = serializers.CharField(help_text="Condition code.")
    words = serializers.IntegerField()
    problem = serializers.CharField(allow_null=True, help_text="dataset:source id; null for a text typed in.")
    trace_id = serializers.IntegerField(allow_null=True)
    trace_source = serializers.CharField(allow_null=True)
    job = serializers.IntegerField(allow_null=True)
    model = serializers.CharField(allow_null=True)
    prompt = serializers.CharField(allow_null=True, help_text="The chat as JSON: a list of role and content.")
    based_on = serializers.IntegerField(allow_null=True)
    readers = serializers.IntegerField()
    reader_ids = serializers.CharField(help_text="Participant ids, separated by ;.")
    version = serializers.IntegerField(allow_null=True, help_text="The version of the texts shown now.")


class TextRowSerializer(serializers.Serializer):
    study = serializers.CharField()
    stimulus_id = serializers.IntegerField()
    stimulus = serializers.CharField()
    condition = serializers.CharField(help_text="Condition code.")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)
    changed = serializers.CharField(help_text="Texts that differ from the version before, separated by ;.")
    context_facts = serializers.CharField(help_text="JSON list of the facts shown.")
    question = serializers.CharField()
    model_answer = serializers.CharField()
    text = serializers.CharField()
    readers = serializers.IntegerField()
    reader_ids = serializers.CharField(help_text="Participant ids, separated by ;.")


class AnchorSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    label = serializers.CharField()


class CodebookItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    construct = serializers.CharField()
    construct_label = serializers.CharField()
    scope = serializers.ChoiceField(choices=Item.Scope.choices)
    text = serializers.CharField()
    scale_points = serializers.ChoiceField(choices=SCALE_POINTS)
    reverse_keyed = serializers.BooleanField()
    expected_value = serializers.IntegerField(allow_null=True)
    anchors = AnchorSerializer(many=True)
    source = serializers.CharField()


class CodeLabelSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class CodebookDesignSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=Study.Design.choices)
    label = serializers.CharField()
    target = serializers.IntegerField()
    target_of = serializers.CharField(help_text="participants per condition, or participants in all.")
    trials_per_participant = serializers.IntegerField()
    condition_orders = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Within participants: the Latin square's rows (condition codes in trial order).",
    )


class CodebookTaskSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=TrialTask.choices, help_text="The trial task.")
    label = serializers.CharField()
    truth_definition = serializers.ChoiceField(
        choices=TruthDefinition.choices, help_text="Verification: which grade is the ground truth."
    )
    confidence_anchors = AnchorSerializer(many=True, help_text="The confidence scale, 1 to 5.")
    simulation_feedback = serializers.BooleanField(
        help_text="Simulation: whether the revealed answer said if the prediction matched."
    )


class CodebookConditionSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    heading = serializers.CharField(help_text="Shown above the text on the trial page.")
    trace_kind = serializers.ChoiceField(choices=TraceKind.choices)
    trace_kind_label = serializers.CharField()
    text_source = serializers.CharField(help_text="Where its texts come from.")
    position = serializers.IntegerField()


class ColumnSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()


class CodebookColumnsSerializer(serializers.Serializer):
    responses = ColumnSerializer(many=True)
    responses_wide = ColumnSerializer(many=True)
    page_times = ColumnSerializer(many=True)
    participants = ColumnSerializer(many=True)
    stimuli = ColumnSerializer(many=True)
    texts = ColumnSerializer(many=True)
    judgements = ColumnSerializer(many=True, required=False, help_text="Verification and simulation studies.")


class CodebookSerializer(serializers.Serializer):
    study = serializers.CharField()
    title = serializers.CharField()
    design = CodebookDesignSerializer()
    task = CodebookTaskSerializer()
    conditions = CodebookConditionSerializer(many=True)
    items = CodebookItemSerializer(many=True)
    participant_statuses = CodeLabelSerializer(many=True)
    columns = CodebookColumnsSerializer()


# --- views -------------------------------------------------------------------------------------

FORMAT_PARAMETER = OpenApiParameter(
    "format", str, enum=["json", "csv"], description="Output format (or send Accept: text/csv)."
)
CSV_BODY = OpenApiTypes.STR


class StudyList(ResearcherAPIView, generics.ListAPIView):
    """The studies the account (and its token) may see, with links to their exports."""

    serializer_class = StudySerializer

    def get_queryset(self):
        studies = access.studies_for(self.request.user, access.VIEW, scoped_token(self.request))
        return studies.prefetch_related("conditions").order_by("slug")


class StudyDetail(ResearcherAPIView, generics.RetrieveAPIView):
    """One study, with links to its exports; another team's is a 404."""

    serializer_class = StudySerializer
    lookup_field = "slug"
    get_queryset = StudyList.get_queryset


class ExportView(ResearcherAPIView):
    """Base of the streamed data exports: filters checked, then the table streamed as JSON or CSV."""

    renderer_classes = [JSONRenderer, CSVRenderer]  # never HTML: a stream has no browsable page
    parameters_class = ExportFilterSerializer

    def make_table(self, study: Study, flt: exports.ParticipantFilter) -> exports.Table:
        raise NotImplementedError

    def get(self, request: Request, slug: str):
        study = self.study(slug)
        filters = self.parameters_class(data=request.query_params)
        filters.is_valid(raise_exception=True)
        try:
            exports.check_condition_filter(study, filters.validated_data.get("condition"))
        except exports.UnknownCondition as unknown:
            raise NotFound(str(unknown)) from None
        except exports.NotAParticipantFilter as refused:
            raise ValidationError({"condition": str(refused)}) from None
        self.exported(study, request.resolver_match.url_name)
        return self.respond(study, filters)

    def respond(self, study: Study, filters: ExportFilterSerializer) -> HttpResponseBase:
        table = self.make_table(study, filters.to_filter())
        return exports.streaming_response(table, study, self.request.accepted_renderer.format)


def _export_schema(row: type[serializers.Serializer], summary: str):
    return extend_schema(
        summary=summary,
        parameters=[ExportFilterSerializer, FORMAT_PARAMETER],
        responses={(200, "application/json"): row(many=True), (200, "text/csv"): CSV_BODY},
    )


class ParticipantsExport(ExportView):
    """Participants: condition, status, times, attention-check outcome, Prolific ids, preview flag."""

    @_export_schema(ParticipantRowSerializer, "Participants")
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.participants_table(study, flt)


class ResponsesExport(ExportView):
    """Responses, long (tidy): one row per participant x stimulus x item."""

    @_export_schema(ResponseRowSerializer, "Responses, long")
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.long_table(study, flt)


class WideResponsesExport(ExportView):
    """Responses, wide: one row per participant, one column per (trial, item), e.g. t1_predictability_1,
    then end items (end_predictability_overall); participant columns first. The codebook lists the
    columns of a study."""

    @extend_schema(
        summary="Responses, wide",
        parameters=[ExportFilterSerializer, FORMAT_PARAMETER],
        responses={
            (200, "application/json"): {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": {
                        "oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True,
                    },
                },
            },
            (200, "text/csv"): CSV_BODY,
        },
    )
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.wide_table(study, flt)


class PageTimesExport(ExportView):
    """Page times: one row per page visit."""

    @_export_schema(PageTimeRowSerializer, "Page times")
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.page_times_table(study, flt)


class JudgementsExport(ExportView):
    """Judgements of verification and simulation studies: one row per participant x trial, with the choice,
    its correctness against the ground truth, the confidence, times, the options shown, and the stimulus's
    grades under the study's truth definition. Empty for a rating study."""

    @_export_schema(JudgementRowSerializer, "Judgements (verification and simulation)")
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.judgements_table(study, flt)


class StimuliExport(ExportView):
    """Stimuli: every condition's text of every stimulus with where it came from (problem, trace, job,
    model, prompt) and which participants read it. The participant filters do not apply."""

    @extend_schema(
        summary="Stimuli and their provenance",
        parameters=[FORMAT_PARAMETER],
        responses={(200, "application/json"): StimulusRowSerializer(many=True), (200, "text/csv"): CSV_BODY},
    )
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.stimuli_table(study)


class TextsExport(ExportView):
    """Texts: every version of what each condition's participants read for each stimulus (the trace's
    text and the problem as shown), when and by whom it was made, and which participants read it. The
    participant filters do not apply."""

    @extend_schema(
        summary="Every version of the texts, and who read which",
        parameters=[FORMAT_PARAMETER],
        responses={(200, "application/json"): TextRowSerializer(many=True), (200, "text/csv"): CSV_BODY},
    )
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def make_table(self, study, flt):
        return exports.texts_table(study)


class CodebookView(ResearcherAPIView):
    """The codebook: items with wording and anchors, condition and status codes, every export's columns."""

    study_action = access.READ_DESIGN

    @extend_schema(
        summary="Codebook",
        parameters=[FORMAT_PARAMETER],
        responses={(200, "application/json"): CodebookSerializer, (200, "text/csv"): CSV_BODY},
    )
    def get(self, request: Request, slug: str):
        study = self.study(slug)
        self.exported(study, "codebook")
        if request.accepted_renderer.format == "csv":
            return exports.streaming_response(exports.codebook_table(study), study, "csv")
        return Response(exports.codebook(study))


class ZipRenderer(BaseRenderer):
    """``application/zip`` for content negotiation; the package streams itself, never through here."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        raise NotImplementedError("The Psych-DS package is streamed by psychds.package, not rendered.")


@extend_schema_field({"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$"})
class TextParameter(serializers.CharField):
    """Free text in a query parameter, taken as given (spaces kept); only a NUL character is refused."""

    def __init__(self, **kwargs) -> None:
        super().__init__(trim_whitespace=False, **kwargs)


class RepeatedParameter(serializers.ListField):
    """A parameter given once per value (``author=A&author=B``). A bad value's error is a flat list of
    messages, as the schema documents a 400's, not DRF's object keyed by position."""

    child = TextParameter()

    def run_child_validation(self, data: list) -> list:
        try:
            return super().run_child_validation(data)
        except ValidationError as error:
            raise ValidationError([f"Value {n + 1}: {message}" for n, messages in error.detail.items()
                                   for message in messages]) from None


class PsychDSParameters(ExportFilterSerializer):
    """The Psych-DS package's query parameters: the participant filters, and what only the researcher can
    say about the dataset (dataset_description.json's fields; repeat ``author`` and ``keywords``)."""

    name = TextParameter(required=False, help_text="The dataset's name; default: the study's title.")
    description = TextParameter(
        required=False, help_text="The dataset's description; default: the study's design, task, conditions "
        "and which participants are in the files.",
    )
    author = RepeatedParameter(required=False, help_text="An author, in citation order (repeat).")
    license = TextParameter(
        required=False, help_text="The data's licence, as a URL: https://creativecommons.org/licenses/by/4.0/"
    )
    citation = TextParameter(required=False, help_text="How to cite the dataset or its paper.")
    funder = TextParameter(required=False, help_text="Sources of funding (grant numbers).")
    url = TextParameter(required=False, help_text="The dataset's canonical web address.")
    identifier = TextParameter(required=False, help_text="The dataset's identifier, such as a DOI.")
    keywords = RepeatedParameter(required=False, help_text="A keyword (repeat).")
    include_identifiers = serializers.BooleanField(
        default=False, help_text="1: keep the Prolific IDs and participants' comments, left out by default "
        "(a package is made to be deposited openly).",
    )


class PsychDSExport(ExportView):
    """The study's data as a Psych-DS package (zip): every data export as a CSV under ``data/``, described in
    ``dataset_description.json`` (schema.org JSON-LD, every column in ``variableMeasured``), with a README
    and CHANGES. The participant filters apply to the participant data, as in the other exports."""

    renderer_classes = [ZipRenderer]
    parameters_class = PsychDSParameters
    http_method_names = ["get", "head"]  # no OPTIONS: DRF answers it in JSON, and this view writes zips only

    @extend_schema(
        summary="Psych-DS data package",
        parameters=[PsychDSParameters],
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, slug: str):
        return super().get(request, slug)

    def respond(self, study: Study, filters: PsychDSParameters) -> HttpResponseBase:
        return psychds_package.streaming_response(
            psychds_package.build(study, filters.to_filter(), DatasetInfo.given(filters.validated_data),
                                  identifiers=filters.validated_data["include_identifiers"])
        )


class StudySpecView(ResearcherAPIView):
    """The study file: everything that defines the study (format trace-study/1, described by the JSON
    Schema in studyapp/spec/study.schema.json), the same bytes as ``manage.py study_spec export``."""

    renderer_classes = [JSONRenderer]
    study_action = access.READ_DESIGN

    @extend_schema(
        summary="The study file",
        description="Everything that defines the study: design, Prolific codes, consent texts, conditions, "
        "items, stimuli with every condition's text and provenance, the practice problem and the analysis "
        "plan. `manage.py study_spec import` (or the admin's upload) creates a study from it.",
        responses={(200, "application/json"): OpenApiTypes.OBJECT},
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        study = self.study(slug)
        self.exported(study, "study file")
        return HttpResponse(spec.dumps(spec.export_study(study)), content_type="application/json")


EXPORT_URL_NAMES = [
    "participants", "responses", "responses-wide", "page-times", "judgements", "stimuli", "texts", "codebook",
    "spec", "psych-ds",
]


class ApiRoot(ResearcherAPIView):
    """The researchers' API: the studies, the OpenAPI schema, and (per study) the exports.

    Data exports take ``format`` (json or csv) and the filters ``condition``, ``status``,
    ``completed=1`` and ``include_previews=1``.
    """

    renderer_classes = [JSONRenderer, BrowsableAPIRenderer]

    @extend_schema(exclude=True)
    def get(self, request: Request):
        return Response({
            "studies": request.build_absolute_uri(reverse("api:study-list")),
            "schema": request.build_absolute_uri(reverse("api:schema")),
            "docs": request.build_absolute_uri(reverse("api:docs")),
            "model_table": request.build_absolute_uri(reverse("api:model-table")) + "?dataset=cotempqa",
        })


@extend_schema(exclude=True)
class NoSuchEndpoint(ResearcherAPIView):
    """Any other URL under /api/v1/, such as a study name that cannot be a slug (``a%00b``: the
    study URLs take slugs only, so nothing reaches the database with it): the API's JSON 404, not the
    site's HTML page. Credentials are checked first, as for every URL here."""

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        raise NotFound("No such study or endpoint.")
