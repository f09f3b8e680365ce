from django.urls import path
from rest_framework.routers import SimpleRouter

from accounts.api import views

router = SimpleRouter()
router.register("users", views.UserViewSet, basename="user")

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("password-reset/complete", views.PasswordResetCompleteView.as_view(), name="password-reset-complete"),
    path("mfa/", views.MfaStatusView.as_view(), name="mfa-status"),
    path("mfa/totp/", views.TotpBeginView.as_view(), name="mfa-totp-begin"),
    path("mfa/totp/confirm", views.TotpConfirmView.as_view(), name="mfa-totp-confirm"),
    path("mfa/recovery-codes/", views.RecoveryCodesView.as_view(), name="mfa-recovery-codes"),
    *router.urls,
]
