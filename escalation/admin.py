from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from escalation.calendar_import import MAX_BYTES, calendar_import
from escalation.calendars import china_years_known, holiday_data_warnings
from escalation.models import (
    BusinessCalendar,
    CalendarDay,
    Deadline,
    Delivery,
    Heartbeat,
    LadderStep,
    Notice,
    RobotSlot,
    SlaPolicy,
    TeamChannel,
    WorkingHours,
)
from incidents import rules


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


class CalendarImportForm(forms.Form):
    file = forms.FileField(
        label=_("File"),
        help_text=_("A CSV file with the header date,kind,name, or an iCalendar (.ics) file."),
    )


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    """Working hours per weekday, plus the holidays and working days to add to (or
    correct in) the library's mainland China calendar."""

    list_display = ["name", "china_holidays", "library_years"]
    readonly_fields = ["library_years"]
    inlines = [WorkingHoursInline, CalendarDayInline]
    import_template = "admin/escalation/businesscalendar/import_holidays.html"

    @admin.display(description=_("years the holiday library knows"))
    def library_years(self, obj=None):
        first, last = china_years_known()
        return _("%(first)s–%(last)s; add later years' holidays and 调休 days below.") % {
            "first": first,
            "last": last,
        }

    def may_import(self, request, obj=None) -> bool:
        """Importing rewrites a calendar's days: administrators only."""
        return rules.context(request.user).is_admin and self.has_change_permission(request, obj)

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/import/",
                self.admin_site.admin_view(self.import_view),
                name=f"{opts.app_label}_{opts.model_name}_import",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET":
            for warning in holiday_data_warnings():
                messages.warning(request, warning)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if request.method == "GET" and object_id and str(object_id).isdigit():
            for warning in holiday_data_warnings(calendar_id=int(object_id)):
                messages.warning(request, warning)
        extra_context["may_import"] = self.may_import(request)
        return super().change_view(request, object_id, form_url, extra_context)

    def import_view(self, request, object_id):
        """The "Import holidays" page: a CSV or .ics file into this calendar
        (escalation.calendar_import)."""
        calendar = self.get_object(request, unquote(object_id))
        if calendar is None:
            raise Http404
        if not self.may_import(request, calendar):
            raise PermissionDenied
        form = CalendarImportForm(request.POST or None, request.FILES or None)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    result = calendar_import(
                        calendar=calendar,
                        data=upload.read(MAX_BYTES + 1),
                        filename=upload.name,
                    )
                except ValidationError as exc:
                    form.add_error("file", exc)
                else:
                    done = _(
                        "Imported %(holidays)s holidays and %(workdays)s working days for "
                        "%(years)s (%(created)s new, %(updated)s changed) from %(file)s."
                    ) % {
                        "holidays": result.holidays,
                        "workdays": result.workdays,
                        "years": ", ".join(str(y) for y in result.years),
                        "created": result.created,
                        "updated": result.updated,
                        "file": upload.name,
                    }
                    self.log_change(request, calendar, str(done))
                    messages.success(request, done)
                    return redirect(
                        reverse(
                            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                            args=[calendar.pk],
                        )
                    )
            status = 400
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": calendar,
            "title": _("Import holidays into %(calendar)s") % {"calendar": calendar.name},
            "form": form,
            "max_kb": MAX_BYTES // 1000,
        }
        return TemplateResponse(request, self.import_template, context, status=status)


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen", "count"]
    readonly_fields = ["name", "last_seen", "count"]

    def has_add_permission(self, request):
        return False


@admin.register(RobotSlot)
class RobotSlotAdmin(admin.ModelAdmin):
    """How many messages each chat robot (by its URL's hash) was sent a minute: the
    engine's count against the robot's limit, read here, never edited."""

    list_display = ["robot", "minute", "sent"]
    readonly_fields = ["robot", "minute", "sent"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
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
    fields = [
        "channel",
        "user",
        "address",
        "status",
        "attempts",
        "last_error",
        "sent_at",
        "digest",
    ]
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


# The status page's models (components, publications, subscribers) register here too.
import escalation.status.admin  # noqa: E402, F401
