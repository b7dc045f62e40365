from django.contrib import admin

from escalation.models import (
    Deadline,
    Delivery,
    Heartbeat,
    LadderStep,
    Notice,
    SlaPolicy,
    TeamChannel,
)


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


@admin.register(LadderStep)
class LadderStepAdmin(admin.ModelAdmin):
    list_display = ["clock", "level", "after_minutes", "to_owner", "to_tech_leads", "to_manager"]
    list_editable = ["after_minutes", "to_owner", "to_tech_leads", "to_manager"]
    list_filter = ["clock"]


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    fields = ["channel", "user", "address", "status", "attempts", "last_error", "sent_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    """Notices are the engine's record: read here, never edited."""

    list_display = ["incident", "clock", "level", "deadline", "created_at", "late"]
    list_filter = ["clock", "late"]
    search_fields = ["incident__number"]
    list_select_related = ["incident"]
    inlines = [DeliveryInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    """Failed deliveries show here (filter by status)."""

    list_display = ["notice", "channel", "user", "address", "status", "attempts", "sent_at"]
    list_filter = ["status", "channel"]
    search_fields = ["notice__incident__number", "address", "user__username"]
    list_select_related = ["notice__incident", "user"]
    readonly_fields = [f.name for f in Delivery._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Deadline)
class DeadlineAdmin(admin.ModelAdmin):
    list_display = ["incident", "clock", "cycle", "due_at", "next_level", "next_at"]
    list_filter = ["clock"]
    search_fields = ["incident__number"]
    list_select_related = ["incident"]
    readonly_fields = [f.name for f in Deadline._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(TeamChannel)
class TeamChannelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "kind", "active"]
    list_filter = ["kind", "team", "active"]
