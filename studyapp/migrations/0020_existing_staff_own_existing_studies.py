"""One team as before: every staff account and every member of the researchers group becomes an owner of
every study that exists now, so a site upgraded to per-study members works as it did. Studies created
later belong to whoever creates them (and those they add)."""

from django.conf import settings
from django.db import migrations
from django.db.models import Q


def existing_staff_own_existing_studies(apps, schema_editor) -> None:
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Study = apps.get_model("studyapp", "Study")
    StudyMember = apps.get_model("studyapp", "StudyMember")
    team = User.objects.filter(Q(is_staff=True) | Q(groups__name=settings.RESEARCHERS_GROUP)).distinct()
    StudyMember.objects.bulk_create(
        [StudyMember(study=study, user=user, role="owner") for study in Study.objects.all() for user in team],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("studyapp", "0019_study_members_tokens_audit"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(existing_staff_own_existing_studies, migrations.RunPython.noop)]
