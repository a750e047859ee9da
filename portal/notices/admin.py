from django.contrib import admin

from portal.notices.models import Delivery, HandoverNotice, NoticeRevision, Subscription


class ReadOnlyAdmin(admin.ModelAdmin):
    """Publication goes through the four-eyes service, never through the admin."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(HandoverNotice)
class HandoverNoticeAdmin(ReadOnlyAdmin):
    list_display = ["reference", "project_name", "status", "modified_at"]
    list_filter = ["status", "ecosystem"]
    search_fields = ["reference", "project_name"]


@admin.register(NoticeRevision)
class NoticeRevisionAdmin(ReadOnlyAdmin):
    list_display = ["notice", "number", "kind", "state", "published_at", "effective_at"]
    list_filter = ["state", "kind"]
    exclude = ["document"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "url", "channel", "filter_kind", "status", "created_at"]
    list_filter = ["status", "channel", "filter_kind"]
    search_fields = ["email", "url"]
    exclude = ["secrets"]
    readonly_fields = ["owner"]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["pk", "revision", "subscription", "status", "attempts", "sent_at"]
    list_filter = ["status"]
