from django.urls import path

from registry.api import views

urlpatterns = [
    path("", views.ModelListView.as_view(), name="model-list"),
    path("<str:name>/", views.ModelDetailView.as_view(), name="model-detail"),
    path("<str:name>/versions/", views.VersionListView.as_view(), name="version-list"),
    path("<str:name>/versions/<str:version>/", views.VersionDetailView.as_view(), name="version-detail"),
    path("<str:name>/policies/", views.PolicyListView.as_view(), name="policy-list"),
]
