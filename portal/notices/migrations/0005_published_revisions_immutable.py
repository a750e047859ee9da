"""Published revisions, log entries and checkpoints never change: PostgreSQL refuses it.

A revision row may change while it awaits approval (approval publishes it, or it is discarded);
once its state is `published`, UPDATE and DELETE are refused. Log entries and checkpoints are
append-only outright. SQLite has no such guard; there the signatures and the log's proofs
(`manage.py verify_log`) show any change. TRUNCATE is left alone for tests and `flush`.
"""

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION notices_refuse_published_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'published' THEN
        RAISE EXCEPTION 'published notice revisions are immutable: % refused', TG_OP
            USING ERRCODE = 'restrict_violation',
                  HINT = 'Publish a new revision instead.';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
DROP TRIGGER IF EXISTS notices_revision_immutable ON notices_noticerevision;
CREATE TRIGGER notices_revision_immutable
    BEFORE UPDATE OR DELETE ON notices_noticerevision
    FOR EACH ROW EXECUTE FUNCTION notices_refuse_published_change();

CREATE OR REPLACE FUNCTION notices_refuse_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
DROP TRIGGER IF EXISTS notices_logentry_append_only ON notices_logentry;
CREATE TRIGGER notices_logentry_append_only
    BEFORE UPDATE OR DELETE ON notices_logentry
    FOR EACH ROW EXECUTE FUNCTION notices_refuse_log_change();
DROP TRIGGER IF EXISTS notices_logcheckpoint_append_only ON notices_logcheckpoint;
CREATE TRIGGER notices_logcheckpoint_append_only
    BEFORE UPDATE OR DELETE ON notices_logcheckpoint
    FOR EACH ROW EXECUTE FUNCTION notices_refuse_log_change();
"""

REVERSE = """
DROP TRIGGER IF EXISTS notices_revision_immutable ON notices_noticerevision;
DROP TRIGGER IF EXISTS notices_logentry_append_only ON notices_logentry;
DROP TRIGGER IF EXISTS notices_logcheckpoint_append_only ON notices_logcheckpoint;
DROP FUNCTION IF EXISTS notices_refuse_published_change();
DROP FUNCTION IF EXISTS notices_refuse_log_change();
"""


def _run_on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


def drop_orphan_deliveries(apps, schema_editor):
    # Deliveries of notices that no longer exist cannot be kept against any revision.
    apps.get_model("notices", "Delivery").objects.filter(revision__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notices", "0004_revisions_log_webhooks"),
    ]

    operations = [
        migrations.RunPython(drop_orphan_deliveries, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="delivery",
            name="revision",
            field=models.ForeignKey(
                on_delete=models.deletion.PROTECT,
                related_name="deliveries",
                to="notices.noticerevision",
            ),
        ),
        migrations.AddField(
            model_name="handovernotice",
            name="latest_revision",
            field=models.OneToOneField(
                blank=True,
                help_text="The newest published revision, in effect or still in its objection period.",
                null=True,
                on_delete=models.deletion.PROTECT,
                related_name="+",
                to="notices.noticerevision",
            ),
        ),
        migrations.RunPython(
            _run_on_postgresql(FORWARD), _run_on_postgresql(REVERSE), elidable=False
        ),
    ]
