from django.urls import path

from compliance.api import views

urlpatterns = [
    path("entries/", views.EntryListView.as_view(), name="audit-entries"),
    path("verify", views.VerifyLogView.as_view(), name="audit-verify"),
    path("export", views.ExportView.as_view(), name="audit-export"),
    path("checkpoint", views.CheckpointView.as_view(), name="audit-checkpoint"),
    path("public-key", views.PublicKeyView.as_view(), name="audit-public-key"),
    path("proofs/inclusion", views.InclusionProofView.as_view(), name="audit-inclusion-proof"),
    path("proofs/consistency", views.ConsistencyProofView.as_view(), name="audit-consistency-proof"),
]
