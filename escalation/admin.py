from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from escalation.calendars import china_years_known
from escalation.models import (
    BusinessCalendar,
    CalendarDay,
    Deadline,
    Delivery,
    Heartbeat,
    LadderStep,
    Notice,
    SlaPolicy,
    TeamChannel,
    WorkingHours,
)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "severity",
        "respond_minutes",
        "resolve_minutes",
        "update_minutes",
        "warning_percent",
        "calendar",
        "goal",
    ]
    list_editable = [
        "respond_minutes",
        "resolve_minutes",
        "update_minutes",
        "warning_percent",
        "calendar",
    ]


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    """Working hours per weekday, plus the holidays and working days to add to (or
    correct in) the library's mainland China calendar."""

    list_display = ["name", "china_holidays", "library_years"]
    readonly_fields = ["library_years"]
    inlines = [WorkingHoursInline, CalendarDayInline]

    @admin.display(description=_("years the holiday library knows"))
    def library_years(self, obj=None):
        first, last = china_years_known()
        return _("%(first)s–%(last)s; add later years' holidays and 调休 days below.") % {
            "first": first,
            "last": last,
        }


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen", "count"]
    readonly_fields = ["name", "last_seen", "count"]

    def has_add_permission(self, request):
        return False


@admin.register(LadderStep)
class LadderStepAdmin(admin.ModelAdmin):
    list_display = [
        "clock",
        "level",
        "after_minutes",
        "to_oncall_primary",
        "to_oncall_secondary",
        "to_owner",
        "to_tech_leads",
        "to_manager",
    ]
    list_editable = [
        "after_minutes",
        "to_oncall_primary",
        "to_oncall_secondary",
        "to_owner",
        "to_tech_leads",
        "to_manager",
    ]
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
