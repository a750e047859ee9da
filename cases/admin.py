from django.contrib import admin

from cases.models import Case


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    """Metadata only: no case text in list displays, and the words are not shown at all."""

    list_display = ["public_id", "category", "urgency", "status", "created_at"]
    list_filter = ["status", "urgency", "category"]
    fields = [
        "public_id",
        "category",
        "urgency",
        "status",
        "created_at",
        "first_response_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
