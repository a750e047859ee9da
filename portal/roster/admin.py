from django.contrib import admin

from portal.roster.models import StewardProfile


@admin.register(StewardProfile)
class StewardProfileAdmin(admin.ModelAdmin):
    """Read-only: every roster change goes through `portal.roster.services` (rules and audit)."""

    list_display = [
        "handle",
        "status",
        "is_on_hold",
        "vetting_expires_at",
        "created_at",
    ]
    list_filter = ["status", "is_on_hold"]
    search_fields = ["handle"]
    exclude = ["user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
