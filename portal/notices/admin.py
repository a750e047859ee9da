from django.contrib import admin

from portal.notices.models import Delivery, HandoverNotice, Subscription


@admin.register(HandoverNotice)
class HandoverNoticeAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "project_name",
        "status",
        "window_start",
        "window_end",
        "published_at",
    ]
    list_filter = ["status", "ecosystem"]
    search_fields = ["reference", "project_name"]

    # Publication goes through the four-eyes service, never through the admin.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "status", "created_at", "confirmed_at"]
    list_filter = ["status"]
    search_fields = ["email"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["pk", "notice", "subscription", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    raw_id_fields = ["notice", "subscription"]
