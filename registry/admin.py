from django.contrib import admin

from accounts.admin_sites import ReadOnlyAdmin, auditor_site
from registry.models import MLModel


@admin.register(MLModel)
class MLModelAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at", "created_by")
    search_fields = ("name",)
    readonly_fields = ("created_at", "created_by")

    def save_model(self, request, obj, form, change):  # noqa: ANN001 - Django admin signature
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(MLModel, site=auditor_site)
class MLModelAuditorAdmin(ReadOnlyAdmin):
    list_display = ("name", "created_at", "created_by")
    search_fields = ("name",)
