"""Policies declare the features that may be stored.

Existing policies get the schema their model already declared: the names in the newest version's
``metadata["features"]`` (the demo model records them there), typed by the newest stored prediction that carries
them. Names that the old ingestion treated as identifiers stay pseudonymised. A policy whose model declared no
features gets an empty schema: its predictions keep no features until a new policy version declares some.
"""

from typing import Any

from django.db import migrations, models


def _was_id_like(name: str) -> bool:
    # The name rule ingestion used before policies declared identifiers (kept here: migrations are frozen).
    lowered = name.lower()
    return lowered in {"id", "uuid", "guid", "ssn", "email", "name", "phone"} or lowered.endswith(("_id", "id", "_uuid"))


def _derived_schema(names: list[str], sample: dict[str, Any]) -> list[dict[str, Any]]:
    schema = []
    for name in names:
        value = sample.get(name)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        identifier = _was_id_like(name)
        kind = "numeric" if numeric and not identifier else "categorical"
        schema.append({"name": name, "type": kind, "identifier": identifier})
    return schema


def derive_feature_schemas(apps: Any, schema_editor: Any) -> None:
    MonitoringPolicy = apps.get_model("registry", "MonitoringPolicy")
    ModelVersion = apps.get_model("registry", "ModelVersion")
    Prediction = apps.get_model("monitoring", "Prediction")
    for policy in MonitoringPolicy.objects.all().iterator():
        newest = ModelVersion.objects.filter(model_id=policy.model_id).order_by("-created_at").first()
        declared = (newest.metadata or {}).get("features") if newest is not None else None
        if not isinstance(declared, list):
            continue
        names = [name for name in dict.fromkeys(declared) if isinstance(name, str) and name]
        if not names:
            continue
        stored = (
            Prediction.objects.filter(model_version__model_id=policy.model_id, features__isnull=False)
            .order_by("-id")
            .values_list("features", flat=True)
            .first()
        )
        policy.features = _derived_schema(names, stored if isinstance(stored, dict) else {})
        policy.save(update_fields=["features"])


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0002_versions_and_policies"),
        ("monitoring", "0005_prediction_indexes_used_by_queries_only"),
    ]

    operations = [
        migrations.AddField(
            model_name="monitoringpolicy",
            name="features",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Features that may be stored: [{'name', 'type': numeric|categorical, 'identifier'}].",
            ),
        ),
        migrations.RunPython(derive_feature_schemas, migrations.RunPython.noop),
    ]
