from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import views

router = SimpleRouter()
router.register("users", views.UserViewSet, basename="user")
router.register("api-keys", views.ApiKeyViewSet, basename="api-key")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    *router.urls,
]
