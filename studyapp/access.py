"""Who may do what in which study: the one place the admin, the API, the monitor, the report, the exports
and the commands ask. A study belongs to its members (StudyMember), each with a role; superusers reach
every study. A study an account is not a member of does not exist for it (404, never 403), so that its
name and existence stay with its team. A scoped API token (StudyToken) reaches only its studies, and there
only what both its role and its account's role allow.

Django's model permissions still say which kinds of record a staff account may change at all; the role
says in which studies. Jobs and the model side (traces: problems, traces, evaluations) are shared by the
whole site: they hold no personal data.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Role, Study, StudyMember, StudyToken

#: The study exists for the account: its monitor, its preview, its settings read-only, the API's study list.
VIEW = "view"
#: Its design read: stimuli, items, the analysis plan, the study file, the codebook, the power planner.
READ_DESIGN = "read_design"
#: Its participants' data: the admin's participant records, every export, the report.
DATA = "data"
#: Its design changed: settings, conditions, stimuli, texts, items, the plan, pilot bots (editors: drafts).
DESIGN = "design"
#: Running it: open, pause, close, marking participants, and Prolific's calls that pay or reject.
OPERATE = "operate"
#: Its members, its API tokens and its audit trail.
MANAGE = "manage"

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({VIEW, READ_DESIGN, DATA, DESIGN, OPERATE, MANAGE}),
    Role.EDITOR: frozenset({VIEW, READ_DESIGN, DESIGN}),
    Role.ANALYST: frozenset({VIEW, READ_DESIGN, DATA}),
    Role.VIEWER: frozenset({VIEW}),
}
#: Editors change a study only while it is a draft: once it is live its design is the owners' to change.
EDITOR_ONLY_WHILE = Study.Status.DRAFT


def roles_allowing(action: str) -> list[str]:
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def role_of(user, study: Study) -> str | None:
    """The account's role in the study (None: not a member). Superusers are owners of every study."""
    if not (user and user.is_authenticated and user.is_active):
        return None
    if user.is_superuser:
        return Role.OWNER
    return StudyMember.objects.filter(study=study, user=user).values_list("role", flat=True).first()


def _role_allows(role: str | None, study: Study, action: str) -> bool:
    if role is None or action not in ROLE_ACTIONS[role]:
        return False
    return not (action == DESIGN and role == Role.EDITOR and study.status != EDITOR_ONLY_WHILE)


def can(user, study: Study, action: str, token: StudyToken | None = None) -> bool:
    """Whether the account (through ``token``, when it came with one) may do ``action`` in the study."""
    if token is not None and not (token.usable() and _role_allows(token.role, study, action)
                                  and token.studies.filter(pk=study.pk).exists()):
        return False
    return _role_allows(role_of(user, study), study, action)


def require(user, study: Study, action: str, token: StudyToken | None = None) -> None:
    """Refuse unless allowed: Http404 where the study is not the account's (or the token's) to see at all,
    PermissionDenied where it is but its role does not allow ``action``."""
    if not can(user, study, VIEW, token):
        raise Http404("No such study.")
    if not can(user, study, action, token):
        raise PermissionDenied(f"Your role in {study.slug} does not allow this.")


def study_or_404(user, slug: str, action: str, token: StudyToken | None = None) -> Study:
    """The study named ``slug`` if the account may do ``action`` in it (else as :func:`require` says)."""
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        raise Http404("No such study.")
    require(user, study, action, token)
    return study


def _allowing(action: str) -> Q:
    """Memberships whose role allows ``action`` in their study."""
    if action != DESIGN:
        return Q(role__in=roles_allowing(action))
    return Q(role=Role.OWNER) | Q(role=Role.EDITOR, study__status=EDITOR_ONLY_WHILE)


def studies_for(user, action: str, token: StudyToken | None = None) -> QuerySet[Study]:
    """The studies in which the account (and its token) may do ``action``."""
    if not (user and user.is_authenticated and user.is_active):
        return Study.objects.none()
    studies = Study.objects.all()
    if not user.is_superuser:
        members = StudyMember.objects.filter(_allowing(action), user=user)
        studies = studies.filter(pk__in=members.values("study"))
    if token is not None:
        if not token.usable() or token.role not in roles_allowing(action):
            return Study.objects.none()
        studies = studies.filter(pk__in=token.studies.values("pk"))
        if action == DESIGN and token.role == Role.EDITOR:
            studies = studies.filter(status=EDITOR_ONLY_WHILE)
    return studies


def require_shared(user, token: StudyToken | None = None) -> None:
    """The model side (problems, traces, evaluations, Table 1) is every researcher's, holding no personal
    data; a scoped token reads it only with a role that reads data (an analyst's or an owner's)."""
    if not is_researcher(user) or (token is not None and DATA not in ROLE_ACTIONS[token.role]):
        raise PermissionDenied("Your role does not allow reading the model side.")


def is_researcher(user) -> bool:
    """Whether the account may use the researchers' pages and API at all: staff, the researchers group, or a
    member of some study (a collaborator from outside the lab need not be staff)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return (user.is_staff or user.groups.filter(name=settings.RESEARCHERS_GROUP).exists()
            or StudyMember.objects.filter(user=user).exists())


def make_owner(user, study: Study) -> None:
    """Whoever creates a study owns it."""
    if user is not None and user.is_authenticated:
        StudyMember.objects.get_or_create(study=study, user=user, defaults={"role": Role.OWNER})
