from django.urls import path

from monitoring.alerts.api import views

urlpatterns = [
    path("alerts/", views.AlertListView.as_view(), name="alert-list"),
    path("alerts/<int:alert_id>/", views.AlertDetailView.as_view(), name="alert-detail"),
    path("alerts/<int:alert_id>/acknowledge", views.AlertAcknowledgeView.as_view(), name="alert-acknowledge"),
    path("alerts/<int:alert_id>/resolve", views.AlertResolveView.as_view(), name="alert-resolve"),
    path("alerts/<int:alert_id>/decrypt", views.AlertDecryptView.as_view(), name="alert-decrypt"),
    path("webhooks/endpoints/", views.EndpointListView.as_view(), name="webhook-endpoint-list"),
    path("webhooks/endpoints/<int:endpoint_id>/", views.EndpointDetailView.as_view(), name="webhook-endpoint-detail"),
    path(
        "webhooks/endpoints/<int:endpoint_id>/rotate-secret",
        views.EndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path("webhooks/deliveries/", views.DeliveryListView.as_view(), name="delivery-list"),
    path("webhooks/deliveries/<int:delivery_id>/", views.DeliveryDetailView.as_view(), name="delivery-detail"),
    path("webhooks/deliveries/<int:delivery_id>/replay", views.DeliveryReplayView.as_view(), name="delivery-replay"),
]
