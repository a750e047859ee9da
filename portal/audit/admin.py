from django.contrib import admin

from portal.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor",
        "action",
        "object_type",
        "object_id",
        "source_ip",
    ]
    list_filter = ["action", "object_type"]

    def get_queryset(self, request):
        # SECURITY: events on a case say who opened it and who works on it; that is for the
        # case's own access log, not for every superuser.
        return super().get_queryset(request).exclude(object_type="cases.case")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
