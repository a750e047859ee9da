from django.contrib import admin

from portal.projects.models import Maintainership, Project


class MaintainershipInline(admin.TabularInline):
    model = Maintainership
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "ecosystem", "repository_url", "created_at"]
    list_filter = ["ecosystem"]
    search_fields = ["name"]
    inlines = [MaintainershipInline]
