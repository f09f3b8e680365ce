"""The seed's demo endpoints, at the seed's paths ({status, data, message} envelope)."""

from django.urls import path

from demo.api import views

urlpatterns = [
    path("api/evaluate_model", views.EvaluateModelView.as_view(), name="seed-evaluate"),
    path("api/monitor_fairness", views.MonitorFairnessView.as_view(), name="seed-monitor-fairness"),
    path("api/fairness_trend", views.FairnessTrendView.as_view(), name="seed-fairness-trend"),
    path("api/pre_alert", views.PreAlertView.as_view(), name="seed-pre-alert"),
    path("api/predict_fairness_drift", views.PredictDriftView.as_view(), name="seed-predict-drift"),
]
