from django.urls import path

from monitoring.api import views

# Mounted under /api/v1/models/ next to the registry's routes.
urlpatterns = [
    path("<str:name>/versions/<str:version>/predictions", views.PredictionsView.as_view(), name="predictions"),
    path("<str:name>/versions/<str:version>/labels", views.LabelsView.as_view(), name="labels"),
]
