"""Retraining the demo loan model with reweighing: a fairer staging version, audited; other models are refused."""

from __future__ import annotations

import hashlib
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from sklearn.linear_model import LogisticRegression

from compliance.models import AuditEntry
from core.api.errors import ApplicationError
from demo.model import DEMO_POLICY, evaluate_demo_model, fit_demo_pipeline, split_demo_data
from demo.retraining import retrain_with_reweighing
from monitoring.fairness import generate_loan_data
from registry.models import ModelVersion
from registry.services import dump_artifact, load_model, register_artifact_bytes, register_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_version(db: None) -> ModelVersion:
    """loan_model v1 as `manage.py train_demo_model` registers it (trained on unbiased data, in production)."""
    call_command("train_demo_model", "--samples", "2000", stdout=StringIO())
    return ModelVersion.objects.get(model__name="loan_model", version="1")


def test_retraining_at_drift_registers_a_fairer_staging_version(demo_version: ModelVersion, admin_user: object) -> None:
    # when the demo model is retrained on data at drift 0.6
    retrained = retrain_with_reweighing(
        source_version=demo_version, requested_by=admin_user, reason="DIR alert on gender", drift_level=0.6
    )
    # then a new staging version of the same model holds a hash-verified artifact
    retrained.refresh_from_db()
    assert (retrained.model.name, retrained.version, retrained.stage) == ("loan_model", "1-rw1", "staging")
    assert retrained.framework == ModelVersion.Framework.SKLEARN
    with retrained.artifact.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == retrained.artifact_sha256
    new_model = load_model("loan_model", "1-rw1")
    assert retrained.metadata["retrained_from"] == "1"
    assert retrained.metadata["target"] == "creditworthy"
    assert retrained.metadata["trained_on"] == "generate_loan_data(drift_level=0.6)"
    assert "baseline_score_histograms" not in retrained.metadata  # the source's would describe another model

    metrics = retrained.training_metrics
    assert metrics["method"] == "reweighing"
    assert metrics["source_version"] == "1"
    assert metrics["drift_level"] == 0.6
    assert metrics["reason"] == "DIR alert on gender"
    before, after = metrics["before"], metrics["after"]
    assert set(before) == set(after) == {"accuracy", "roc_auc", "DIR", "SPD"}
    # measured with these seeds: DIR 0.911 -> 0.936, SPD -0.070 -> -0.056, accuracy 0.696 -> 0.704
    assert after["DIR"] >= before["DIR"] + 0.015
    assert after["DIR"] >= 0.9
    assert abs(after["SPD"]) < abs(before["SPD"])
    assert after["accuracy"] >= before["accuracy"] - 0.02
    assert after["roc_auc"] >= before["roc_auc"] - 0.02

    # and the numbers are those of the stored artifacts on the same test split
    _, test = split_demo_data(generate_loan_data(5000, drift_level=0.6, seed=7), seed=7)
    assert evaluate_demo_model(new_model, test).summary() == pytest.approx(after)
    assert evaluate_demo_model(load_model("loan_model", "1"), test).summary() == pytest.approx(before)

    # and the audit log records the registration and the retraining, with before and after
    register_entry = AuditEntry.objects.get(action="model.register", object_id="loan_model:1-rw1")
    retrain_entry = AuditEntry.objects.get(action="model.retrained", object_id="loan_model:1-rw1")
    assert retrain_entry.seq == register_entry.seq + 1
    assert retrain_entry.actor == register_entry.actor != ""
    assert retrain_entry.payload["source_version"] == "1"
    assert retrain_entry.payload["before"] == pytest.approx(before)
    assert retrain_entry.payload["after"] == pytest.approx(after)
    assert retrain_entry.payload["artifact_sha256"] == retrained.artifact_sha256
    # the source version is untouched
    demo_version.refresh_from_db()
    assert demo_version.stage == "production"


def test_repeated_retraining_picks_a_new_version_name(demo_version: ModelVersion) -> None:
    first = retrain_with_reweighing(source_version=demo_version, reason="first", samples=1000)
    second = retrain_with_reweighing(source_version=demo_version, reason="second", samples=1000)
    of_retrained = retrain_with_reweighing(source_version=first, reason="again", samples=1000)
    assert [first.version, second.version, of_retrained.version] == ["1-rw1", "1-rw2", "1-rw1-rw1"]
    assert of_retrained.training_metrics["source_version"] == "1-rw1"
    assert AuditEntry.objects.filter(action="model.retrained").count() == 3


def refused(**kwargs: object) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        retrain_with_reweighing(reason="test", samples=1000, **kwargs)
    return raised.value


def test_models_other_than_the_demo_model_are_refused(demo_version: ModelVersion) -> None:
    external = register_model(
        name="hiring_screen",
        version="1",
        registered_by=None,
        policy={"protected_attributes": ["sex"], "privileged": {"sex": "Male"}},
    )
    fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    other_sklearn = register_artifact_bytes(
        name="scorer", version="1", registered_by=None, policy=DEMO_POLICY, artifact_bytes=dump_artifact(fitted)
    )
    external_demo = register_model(name="loan_model", version="served-elsewhere", registered_by=None)
    versions_before = ModelVersion.objects.count()
    for source in (external, other_sklearn, external_demo):
        error = refused(source_version=source)
        assert (error.status_code, error.code) == (409, "retraining_not_supported")
    assert ModelVersion.objects.count() == versions_before
    assert not AuditEntry.objects.filter(action="model.retrained").exists()


@pytest.mark.filterwarnings("ignore:X has feature names:UserWarning")
def test_a_demo_version_that_cannot_score_the_demo_features_is_refused(demo_version: ModelVersion) -> None:
    fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    wrong = register_artifact_bytes(
        name="loan_model", version="wrong-features", registered_by=None, artifact_bytes=dump_artifact(fitted)
    )
    error = refused(source_version=wrong)
    assert (error.status_code, error.code) == (409, "retraining_not_supported")
    assert not ModelVersion.objects.filter(version__startswith="wrong-features-rw").exists()


def test_a_tampered_source_artifact_is_not_loaded(demo_version: ModelVersion) -> None:
    with open(demo_version.artifact.path, "ab") as handle:
        handle.write(b"tampered")
    error = refused(source_version=demo_version)
    assert (error.status_code, error.code) == (409, "artifact_integrity")
    assert ModelVersion.objects.filter(model__name="loan_model").count() == 1


@pytest.mark.parametrize(
    ("drift_level", "samples", "field"),
    [(1.5, 1000, "drift_level"), (-0.1, 1000, "drift_level"), (0.5, 50, "samples"), (0.5, True, "samples")],
)
def test_invalid_parameters_are_refused(
    demo_version: ModelVersion, drift_level: float, samples: int, field: str
) -> None:
    with pytest.raises(ApplicationError) as raised:
        retrain_with_reweighing(source_version=demo_version, reason="test", drift_level=drift_level, samples=samples)
    assert (raised.value.status_code, raised.value.code) == (400, "invalid")
    assert field in raised.value.details


def test_fit_demo_pipeline_passes_sample_weights_to_the_classifier() -> None:
    train, _ = split_demo_data(generate_loan_data(600, drift_level=0.6, seed=1), seed=1)
    plain = fit_demo_pipeline(train)["classifier"].coef_
    assert fit_demo_pipeline(train, sample_weight=np.ones(len(train)))["classifier"].coef_ == pytest.approx(plain)
    uneven = np.where(train["creditworthy"].to_numpy(), 3.0, 1.0)
    assert not np.allclose(fit_demo_pipeline(train, sample_weight=uneven)["classifier"].coef_, plain)


def test_a_retraining_request_from_alerts_reaches_the_demo_app_through_the_signal(
    demo_version: ModelVersion, eager_tasks: None
) -> None:
    from monitoring.alerts.models import OutboxEvent
    from monitoring.alerts.services import _enqueue_retraining

    # when alerts hands on a retraining request (it names no demo code: it sends retraining_requested)
    _enqueue_retraining(demo_version.pk, "violation_persisted_3_checks")
    # then the demo app's receiver ran its retrain task: a staging version and a retraining.completed event
    retrained = ModelVersion.objects.get(model=demo_version.model, training_metrics__source_version="1")
    assert retrained.stage == "staging"
    assert retrained.training_metrics["reason"] == "violation_persisted_3_checks"
    completed = OutboxEvent.objects.get(type="retraining.completed")
    assert completed.payload["data"]["new_version"] == retrained.version


def test_a_retraining_request_for_another_model_changes_nothing_but_the_event(
    admin_user: object, eager_tasks: None
) -> None:
    from monitoring.alerts.models import OutboxEvent
    from monitoring.alerts.services import _enqueue_retraining

    version = register_model(
        name="credit_model",
        version="1",
        stage="production",
        registered_by=admin_user,
        policy={"protected_attributes": ["gender"], "privileged": {"gender": "Male"}},
    )
    model = version.model
    _enqueue_retraining(version.pk, "forecast_recommends_retrain")
    assert ModelVersion.objects.filter(model=model).count() == 1
    assert not OutboxEvent.objects.filter(type="retraining.completed").exists()
