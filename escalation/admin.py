from django.contrib import admin

from escalation.models import Heartbeat, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "severity",
        "respond_minutes",
        "resolve_minutes",
        "update_minutes",
        "warning_percent",
        "goal",
    ]
    list_editable = ["respond_minutes", "resolve_minutes", "update_minutes", "warning_percent"]


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen", "count"]
    readonly_fields = ["name", "last_seen", "count"]

    def has_add_permission(self, request):
        return False
