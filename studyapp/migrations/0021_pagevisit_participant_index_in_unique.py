"""PageVisit.participant loses its own index: the unique (participant, page) index serves every lookup by
participant, and each page shown wrote both. Only the index is dropped: AlterField would also drop and
re-add the foreign key, checking every visit again under a lock."""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "studyapp_pagevisit_participant_id_c70cafe3"


class Migration(migrations.Migration):

    dependencies = [
        ("studyapp", "0020_existing_staff_own_existing_studies"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="pagevisit",
                    name="participant",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                            related_name="visits", to="studyapp.participant"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{INDEX}"',
                    reverse_sql=f'CREATE INDEX "{INDEX}" ON "studyapp_pagevisit" ("participant_id")',
                ),
            ],
        ),
    ]
