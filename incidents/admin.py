"""Admin: teams, services and profiles are edited here; incidents are read here.

Incidents change only through incidents.services (the web pages and the API),
so every change is checked and audited; the admin shows them read-only.
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from incidents import alerts, rules
from incidents.models import (
    Alert,
    AlertIntegration,
    Assignment,
    ExternalContact,
    Grading,
    Incident,
    LogEntry,
    Resolution,
    Service,
    Team,
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
    fields = [
        "name",
        "team",
        "rate_limit_per_minute",
        "default_severity",
        "severity_rules",
        "signing_secret",
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
        if obj.severity_rules:
            created.severity_rules = obj.severity_rules
            created.save(update_fields=["severity_rules"])
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
    list_display = ["fingerprint", "integration", "incident", "status", "events", "last_seen"]
    list_filter = ["status", "integration"]
    search_fields = ["fingerprint", "group_key", "incident__number", "summary"]
    list_select_related = ["integration", "incident"]


admin.site.site_header = _("Responder administration")
admin.site.site_title = _("Responder")
