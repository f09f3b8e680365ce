"""The audit head row, and on PostgreSQL triggers that make audit entries, checkpoints and anchors append-only."""

from django.db import migrations

PROTECTED_TABLES = ("compliance_auditentry", "compliance_checkpoint", "compliance_anchor")

# A session that sets fairlens.audit_maintenance = 'on' passes: the test database sets it so test teardown can
# empty tables. The application never sets it. A database owner or superuser can always drop these triggers;
# the hash chain, signatures and external anchors are what make such changes detectable.
FORBID_FUNCTION = """
CREATE OR REPLACE FUNCTION fairlens_forbid_audit_change() RETURNS trigger AS $$
BEGIN
    IF current_setting('fairlens.audit_maintenance', true) = 'on' THEN
        IF TG_LEVEL = 'STATEMENT' THEN RETURN NULL; END IF;
        IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def create_head(apps, schema_editor):  # noqa: ANN001 - migration signature
    apps.get_model("compliance", "AuditHead").objects.get_or_create(pk=1, defaults={"seq": 0, "entry_hash": "0" * 64})


def add_triggers(apps, schema_editor):  # noqa: ANN001 - migration signature
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FORBID_FUNCTION, params=None)  # None: the % in RAISE is not a placeholder
    for table in PROTECTED_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION fairlens_forbid_audit_change()"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION fairlens_forbid_audit_change()"
        )


def remove_triggers(apps, schema_editor):  # noqa: ANN001 - migration signature
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in PROTECTED_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS fairlens_forbid_audit_change()")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_audit_trail")]

    operations = [
        migrations.RunPython(create_head, migrations.RunPython.noop),
        migrations.RunPython(add_triggers, remove_triggers),
    ]
