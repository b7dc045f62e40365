"""Admin: teams, services and profiles are edited here; incidents are read here.

Incidents change only through incidents.services (the web pages and the API),
so every change is checked and audited; the admin shows them read-only.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from incidents import alerts, rules
from incidents.maintenance import services as maintenance
from incidents.models import (
    Alert,
    AlertIntegration,
    Assignment,
    ExternalContact,
    Grading,
    Incident,
    LogEntry,
    MaintenanceWindow,
    Resolution,
    Service,
    Team,
    TeamEvent,
    TimelineEvent,
    UserFeedback,
    UserNotification,
    UserProfile,
    Verification,
)


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ServiceInline(admin.TabularInline):
    model = Service
    extra = 0
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "manager", "time_zone"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["members", "tech_leads"]
    inlines = [ServiceInline]


@admin.register(UserProfile)
class UserProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "email_notices", "inapp_notices", "language", "time_zone"]
    search_fields = ["user__username", "user__email"]


class _ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    show_change_link = False


class GradingInline(_ReadOnlyInline):
    model = Grading
    fields = ["graded_at", "graded_by", "previous_severity", "severity", "diagnosis"]


class AssignmentInline(_ReadOnlyInline):
    model = Assignment
    fields = ["assigned_at", "assigned_by", "owner", "goal", "time_limit"]


class ExternalContactInline(_ReadOnlyInline):
    model = ExternalContact
    fields = ["name", "organisation", "contact", "owes"]


class LogEntryInline(_ReadOnlyInline):
    model = LogEntry
    fields = ["happened_at", "author", "kind", "text"]


class ResolutionInline(_ReadOnlyInline):
    model = Resolution
    fields = ["submitted_at", "submitted_by", "workaround", "fix", "outcome"]


class VerificationInline(_ReadOnlyInline):
    model = Verification
    fields = [
        "verified_at",
        "verifier",
        "functional_ok",
        "regression_ok",
        "monitoring_ok",
        "passed",
    ]


class UserNotificationInline(_ReadOnlyInline):
    model = UserNotification
    fields = ["notified_at", "notified_by", "message"]


class UserFeedbackInline(_ReadOnlyInline):
    model = UserFeedback
    fields = ["recorded_at", "recorded_by", "satisfied", "text"]


class TimelineEventInline(_ReadOnlyInline):
    model = TimelineEvent
    fields = ["created_at", "actor", "kind", "from_state", "to_state", "changes", "message"]


@admin.register(Incident)
class IncidentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "number",
        "title",
        "severity",
        "state",
        "team",
        "owner",
        "received_at",
        "respond_by",
        "resolve_by",
        "next_update_by",
    ]
    list_filter = ["state", "severity", "team", "category", "source"]
    search_fields = ["number", "title", "symptoms"]
    date_hierarchy = "received_at"
    list_select_related = ["team", "owner"]
    inlines = [
        GradingInline,
        AssignmentInline,
        ExternalContactInline,
        LogEntryInline,
        ResolutionInline,
        VerificationInline,
        UserNotificationInline,
        UserFeedbackInline,
        TimelineEventInline,
    ]

    def has_view_permission(self, request, obj=None):
        return rules.uses_admin(request.user)


@admin.register(TimelineEvent)
class TimelineEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "incident", "actor", "kind", "from_state", "to_state"]
    list_filter = ["kind"]
    search_fields = ["incident__number", "message"]
    list_select_related = ["incident", "actor"]


for model in (
    Grading,
    Assignment,
    LogEntry,
    Resolution,
    Verification,
    UserNotification,
    UserFeedback,
):

    @admin.register(model)
    class _Admin(ReadOnlyMixin, admin.ModelAdmin):
        list_display = ["__str__", "incident"]
        search_fields = ["incident__number"]
        list_select_related = ["incident"]


@admin.register(AlertIntegration)
class AlertIntegrationAdmin(admin.ModelAdmin):
    """Creating one here shows its token once, in a message; only a hash is kept."""

    list_display = [
        "name",
        "team",
        "token_hint",
        "rate_limit_per_minute",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["team"]
    readonly_fields = ["token_hint", "created_at", "revoked_at", "last_used_at"]
    # Kept as entered when the integration is created (integration_create sets the rest).
    SETTINGS = [
        "severity_rules",
        "group_by",
        "group_window_minutes",
        "storm_thresholds",
        "flap_changes",
        "flap_window_minutes",
        "flap_settle_minutes",
        "open_after",
        "open_after_minutes",
    ]
    fields = [
        "name",
        "team",
        "rate_limit_per_minute",
        "default_severity",
        "signing_secret",
        *SETTINGS,
        *readonly_fields,
    ]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created, token = alerts.integration_create(
            name=obj.name,
            team=obj.team,
            rate_limit_per_minute=obj.rate_limit_per_minute,
            signing_secret=obj.signing_secret,
            default_severity=obj.default_severity,
        )
        for name in self.SETTINGS:
            setattr(created, name, getattr(obj, name))
        created.save(update_fields=self.SETTINGS)
        obj.pk = created.pk
        obj.token_hash, obj.token_hint = created.token_hash, created.token_hint
        messages.warning(
            request,
            _("Token for %(name)s (shown once, store it now): %(token)s")
            % {"name": created.name, "token": token},
        )

    @admin.action(description=_("Revoke the selected integrations"))
    def revoke(self, request, queryset):
        for integration in queryset:
            alerts.integration_revoke(integration=integration)
        messages.success(request, _("Revoked."))


@admin.register(Alert)
class AlertAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "fingerprint",
        "integration",
        "incident",
        "status",
        "events",
        "flapping",
        "pending",
        "held_by",
        "last_seen",
    ]
    list_filter = ["status", "flapping", "pending", "integration"]
    search_fields = ["fingerprint", "group_key", "incident__number", "summary"]
    list_select_related = ["integration", "incident", "held_by"]


class MaintenanceWindowForm(forms.ModelForm):
    """Checked by the one validation of windows (maintenance.validate_window), as
    the API and the pages are."""

    class Meta:
        model = MaintenanceWindow
        fields = ["team", *maintenance.FIELDS]

    def clean(self):
        data = super().clean()
        team = data.get("team")
        if team is None or self.errors:
            return data
        if self.instance.pk and team.pk != self.instance.team_id:
            self.add_error("team", _("A window stays with its team; plan a new one."))
            return data
        spec = maintenance.WindowSpec(
            **{f: data.get(f) for f in maintenance.FIELDS if f != "services"},
            services=list(data.get("services") or ()),
        )
        try:
            maintenance.validate_window(team, spec)
        except ValidationError as refused:
            self.add_error(None, refused)
        return data


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(admin.ModelAdmin):
    """Writes go through the maintenance services (the silence follows each)."""

    form = MaintenanceWindowForm
    list_display = ["title", "team", "starts_at", "ends_at", "recurrence", "mode", "ended_at"]
    list_filter = ["team", "mode"]
    search_fields = ["title", "description"]
    list_select_related = ["team"]
    filter_horizontal = ["services"]
    readonly_fields = [
        "created_by",
        "created_at",
        "updated_at",
        "ended_occurrence",
        "ended_at",
        "suppressed_alerts",
        "started_occurrence",
        "reminded_occurrence",
        "silence_id",
        "silence_error",
        "silence_checked_at",
    ]

    def save_model(self, request, obj, form, change):
        values = {f: form.cleaned_data.get(f) for f in maintenance.FIELDS}
        if change:
            saved = maintenance.window_update(
                window=MaintenanceWindow.objects.select_related("team").get(pk=obj.pk),
                actor=request.user,
                **values,
            )
        else:
            saved = maintenance.window_create(
                actor=request.user, team=form.cleaned_data["team"], **values
            )
        for field in MaintenanceWindow._meta.concrete_fields:
            setattr(obj, field.attname, getattr(saved, field.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # the service set the services

    def delete_model(self, request, obj):
        maintenance.window_delete(window=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for window in queryset.select_related("team"):
            maintenance.window_delete(window=window, actor=request.user)


@admin.register(TeamEvent)
class TeamEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "team", "kind", "window", "text"]
    list_filter = ["kind", "team"]
    search_fields = ["text", "window__title"]
    list_select_related = ["team", "window"]


admin.site.site_header = _("Responder administration")
admin.site.site_title = _("Responder")
