"""The tracking form (问题处理跟踪表) as data.

Sections: basic information (Incident), grading and diagnosis (Grading),
task assignment (Assignment, ExternalContact), process log (LogEntry),
result verification (Resolution, Verification, UserNotification,
UserFeedback). TimelineEvent is the append-only audit trail.

Models hold data and small read-only helpers; every write with a rule behind
it goes through incidents.services.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Least
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    P0 = "P0", _("P0 urgent")
    P1 = "P1", _("P1 high")
    P2 = "P2", _("P2 medium")
    P3 = "P3", _("P3 low")


class State(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    VERIFYING = "verifying", _("Verifying")
    RESOLVED = "resolved", _("Resolved")
    ARCHIVED = "archived", _("Archived")
    CANCELLED = "cancelled", _("Cancelled")


# States in which the incident still needs work (cancel is allowed from these).
OPEN_STATES = frozenset(
    {State.NEW, State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.VERIFYING}
)
# States in which a progress update is due on the update clock.
UPDATE_CLOCK_STATES = frozenset(
    {State.ACKNOWLEDGED, State.ASSIGNED, State.IN_PROGRESS, State.VERIFYING}
)


def overdue_clocks(
    *,
    state,
    acknowledged_at,
    restored_at,
    respond_by,
    resolve_by,
    next_update_by,
    now,
    paused_at=None,
) -> list[str]:
    """The clocks running past their deadline at `now` ("respond", "resolve", "update").

    The rule of the *_clock_running properties, on plain values so list pages
    that read .values() apply it too (its SQL form is selectors.overdue_q). A
    paused incident's resolve and update clocks are held, so never late.
    """
    late = []
    if paused_at is not None:
        # Only a maintenance hold pauses before the acknowledgement (a person pauses
        # an acknowledged incident), and it holds the respond clock too.
        return late
    if state in OPEN_STATES and acknowledged_at is None and respond_by < now:
        late.append("respond")
    if state in OPEN_STATES and restored_at is None and resolve_by < now:
        late.append("resolve")
    if state in UPDATE_CLOCK_STATES and next_update_by is not None and next_update_by < now:
        late.append("update")
    return late


# What overdue_clocks() reads of an incident.
CLOCK_FIELDS = (
    "state",
    "acknowledged_at",
    "restored_at",
    "respond_by",
    "resolve_by",
    "next_update_by",
    "paused_at",
)


def overdue_clocks_of(item, now) -> list[str]:
    """overdue_clocks() of anything holding CLOCK_FIELDS: an Incident, a list's row."""
    return overdue_clocks(now=now, **{name: getattr(item, name) for name in CLOCK_FIELDS})


class Source(models.TextChoices):
    MONITORING = "monitoring", _("Monitoring alert")
    USER_COMPLAINT = "user_complaint", _("User complaint")
    INTERNAL_CHAT = "internal_chat", _("Internal chat")
    PHONE = "phone", _("Phone")
    API = "api", _("API")


class Category(models.TextChoices):
    PRODUCTION = "production", _("Production system failure")
    USER_FACING = "user_facing", _("User-facing defect")
    DEV_TEST = "dev_test", _("Development/test environment")
    INFRASTRUCTURE = "infrastructure", _("Infrastructure failure")


def validate_time_zone(value: str) -> None:
    """A zoneinfo name such as Asia/Shanghai (empty: the site's zone)."""
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("Unknown time zone “%(zone)s”: give a name such as Asia/Shanghai."),
            params={"zone": value},
        )


class Team(models.Model):
    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="teams",
        blank=True,
        verbose_name=_("members"),
    )
    tech_leads = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="led_teams",
        blank=True,
        verbose_name=_("tech leads"),
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_teams",
        verbose_name=_("manager"),
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        db_default="",
        validators=[validate_time_zone],
        help_text=_(
            "Where the team works, e.g. Asia/Shanghai or Europe/Berlin: business-hours "
            "deadlines count its working hours in this zone. Empty: the site's zone."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self):
        return self.name


class Service(models.Model):
    """A system or module of a team's (optional on an incident)."""

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="services", verbose_name=_("team")
    )
    slug = models.SlugField(_("slug"))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["team", "name"]
        constraints = [
            models.UniqueConstraint(fields=["team", "slug"], name="service_unique_slug_per_team")
        ]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self):
        return f"{self.team.slug}/{self.name}"


class UserProfile(models.Model):
    """Per-user preferences; every user gets email and in-app notices by default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    email_notices = models.BooleanField(_("email notices"), default=True)
    inapp_notices = models.BooleanField(_("in-app notices"), default=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    language = models.CharField(
        _("language"), max_length=10, blank=True, choices=settings.LANGUAGES
    )
    # What the browser asked for at the last sign-in: the language of e-mail,
    # notices and the calendar feed for someone who never chose one.
    browser_language = models.CharField(
        _("browser language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_(
            "Asked for by the browser at the last sign-in; used when no language is chosen."
        ),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("user profile")
        verbose_name_plural = _("user profiles")

    def __str__(self):
        return str(self.user)


# Longest free texts the forms and the API accept (a clear 400 above them):
# symptoms, diagnosis, log entries, evidence…; scope, notes and contacts;
# the archive summary.
LONG_TEXT = 20_000
MEDIUM_TEXT = 5_000
SUMMARY_TEXT = 50_000


class IncidentSequence(models.Model):
    """Per-day counter behind incident numbers (INC-YYYYMMDD-NNNN)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.day}: {self.last}"


# A deadline far in the future: "this clock is not running" when ordering by urgency.
NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def _running(condition: models.Q, field: str):
    return models.Case(models.When(condition, then=models.F(field)), default=models.Value(NEVER))


def most_urgent_deadline():
    """SQL for the earliest deadline among the incident's running clocks (a pause
    holds the resolve and update clocks, as in selectors.overdue_q); kept as
    Incident.earliest_due."""
    held = models.Q(paused_at__isnull=False)
    return Least(
        _running(models.Q(acknowledged_at__isnull=True), "respond_by"),
        _running(models.Q(restored_at__isnull=True) & ~held, "resolve_by"),
        _running(
            models.Q(state__in=sorted(UPDATE_CLOCK_STATES), next_update_by__isnull=False) & ~held,
            "next_update_by",
        ),
        output_field=models.DateTimeField(),
    )


class Incident(models.Model):
    # -- basic information (问题基本信息) --
    number = models.CharField(_("number"), max_length=32, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    symptoms = models.TextField(_("initial symptoms"))
    impact_scope = models.TextField(_("impact scope"))
    affected_users = models.PositiveIntegerField(_("affected users"), default=0)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    category = models.CharField(
        _("category"),
        max_length=20,
        choices=Category.choices,
        default=Category.PRODUCTION,
    )
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="incidents", verbose_name=_("team")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("service"),
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reported_incidents",
        verbose_name=_("reporter"),
        help_text=_("Empty when filed by a machine (alert integration)."),
    )
    received_at = models.DateTimeField(_("received at"))
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    initial_severity = models.CharField(
        _("initial severity"), max_length=2, choices=Severity.choices
    )
    urgent = models.BooleanField(_("urgent"), default=False)
    phone_call_made = models.BooleanField(_("tech lead phoned"), default=False)
    phone_call_to = models.CharField(_("phoned whom"), max_length=100, blank=True)
    phone_call_at = models.DateTimeField(_("phoned at"), null=True, blank=True)

    # -- state and grading --
    state = models.CharField(
        _("state"),
        max_length=20,
        choices=State.choices,
        default=State.NEW,
        db_index=True,
    )
    severity = models.CharField(_("severity"), max_length=2, choices=Severity.choices)

    # -- assignment (current; history in Assignment) --
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="owned_incidents",
        verbose_name=_("owner"),
    )
    helpers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="helping_incidents",
        blank=True,
        verbose_name=_("helpers"),
    )
    goal = models.TextField(_("goal"), blank=True)
    time_limit = models.DateTimeField(_("time limit"), null=True, blank=True)

    # -- deadlines (the clocks of DESIGN.md) --
    respond_by = models.DateTimeField(_("respond by"), db_index=True)
    resolve_by = models.DateTimeField(_("resolve by"), db_index=True)
    next_update_by = models.DateTimeField(_("next update by"), null=True, blank=True, db_index=True)
    update_clock_from = models.DateTimeField(
        _("update clock started"),
        null=True,
        blank=True,
        help_text=_("Acknowledge, the last progress entry, the last reopen or resume."),
    )
    resolve_warn_by = models.DateTimeField(
        _("resolution warning at"),
        null=True,
        blank=True,
        help_text=_("The level's warning share of the resolve window, in SLA time."),
    )
    # The earliest deadline among the running clocks, kept by the database: the
    # dashboard orders by it (compiling this expression three times per page and
    # working it out for every open row took a tenth of the dashboard).
    earliest_due = models.GeneratedField(
        expression=most_urgent_deadline(),
        output_field=models.DateTimeField(),
        db_persist=True,
        verbose_name=_("earliest deadline"),
    )
    # -- pause (waiting on someone outside the team; history in Pause) --
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    # Database defaults too: web workers of the release before still insert
    # incidents while a rolling deploy runs this migration.
    pause_reason = models.TextField(_("pause reason"), blank=True, db_default="")
    pause_waiting_on = models.CharField(_("waiting on"), max_length=200, blank=True, db_default="")
    paused_for = models.DurationField(
        _("paused in all"),
        default=timedelta(0),
        db_default=timedelta(0),
        help_text=_("Wall time of ended pauses."),
    )
    # SLA time taken (non-working and paused time left out), kept when the clock
    # stops so the metrics need not replay calendars.
    respond_sla = models.DurationField(_("SLA time to acknowledge"), null=True, blank=True)
    resolve_sla = models.DurationField(_("SLA time to restore"), null=True, blank=True)

    # -- step timestamps --
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    started_at = models.DateTimeField(_("work started at"), null=True, blank=True)
    resolution_submitted_at = models.DateTimeField(
        _("resolution submitted at"), null=True, blank=True
    )
    restored_at = models.DateTimeField(
        _("service restored at"),
        null=True,
        blank=True,
        help_text=_("When the resolution that passed verification was submitted."),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archived at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.TextField(_("cancel reason"), blank=True)
    archive_summary = models.TextField(_("archive summary"), blank=True)
    reopen_count = models.PositiveIntegerField(_("times reopened"), default=0)
    # Kept by incident_verify, so the metrics need not aggregate every attempt.
    verification_count = models.PositiveIntegerField(_("verification attempts"), default=0)
    failed_verification_count = models.PositiveIntegerField(_("failed verifications"), default=0)
    # The post-mortem's root-cause category (knowledge's), copied here by knowledge
    # when a post-mortem is written, changed or deleted, so the metrics count root
    # causes from the figures kept at write time (incidents.figures).
    root_cause_category = models.CharField(
        _("root-cause category"), max_length=20, blank=True, default="", editable=False
    )
    # Monitoring: the incident this one repeats (a firing after that one was resolved),
    # the maintenance window it opened under (mode "mark"), and its alerts counted.
    recurrence_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="recurrences",
        verbose_name=_("recurrence of"),
    )
    maintenance_window = models.ForeignKey(
        "MaintenanceWindow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="marked_incidents",
        verbose_name=_("opened during maintenance window"),
    )
    alert_count = models.PositiveIntegerField(_("alerts"), default=0, db_default=0)
    event_count = models.PositiveIntegerField(_("alert events"), default=0, db_default=0)

    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            # Team lists by state, newest first; also counts a team's incidents. The
            # level last: the archive filtered by level counts from the index alone
            # (a month of one team's P2s: 4.7 -> 0.5 ms). A key column, not INCLUDE:
            # Django builds no index at all where INCLUDE is not supported (SQLite).
            models.Index(
                fields=["team", "state", "-received_at", "severity"],
                name="incident_team_state_recv_sev",
            ),
            models.Index(fields=["state", "-received_at"], name="incident_state_received"),
            models.Index(fields=["owner", "state"], name="incident_owner_state"),
            # rules.context: incidents a user owns in teams they are not in.
            models.Index(fields=["owner", "team"], name="incident_owner_team"),
            models.Index(fields=["-received_at"], name="incident_received"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=State.values), name="incident_state_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=Severity.values),
                name="incident_severity_valid",
            ),
        ]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")

    def __str__(self):
        return f"{self.number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def respond_clock_running(self) -> bool:
        # A pause before the acknowledgement is a maintenance window's hold.
        return self.acknowledged_at is None and self.is_open and self.paused_at is None

    @property
    def held_by_window(self) -> bool:
        """Opened under a maintenance window in mode "mark" and still held by it: the
        hold is the pause that started when the incident was received."""
        return (
            self.maintenance_window_id is not None
            and self.paused_at is not None
            and self.paused_at == self.received_at
        )

    @property
    def paused(self) -> bool:
        return self.paused_at is not None

    @property
    def resolve_clock_running(self) -> bool:
        # A resolution awaiting verification has not stopped the clock yet; a
        # pause holds it.
        return self.restored_at is None and self.is_open and self.paused_at is None

    @property
    def update_clock_running(self) -> bool:
        return (
            self.state in UPDATE_CLOCK_STATES
            and self.next_update_by is not None
            and self.paused_at is None
        )

    def overdue_clocks(self, now) -> list[str]:
        return overdue_clocks_of(self, now)


class Pause(models.Model):
    """One pause of an incident's resolve and update clocks: it waited on someone
    outside the team (a vendor, the customer, another team)."""

    incident = models.ForeignKey(
        "Incident", on_delete=models.CASCADE, related_name="pauses", verbose_name=_("incident")
    )
    started_at = models.DateTimeField(_("paused at"))
    ended_at = models.DateTimeField(_("resumed at"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    waiting_on = models.CharField(_("waiting on"), max_length=200, blank=True)
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("paused by"),
        help_text=_("Empty: held by a maintenance window."),
    )
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resumed by"),
    )

    class Meta:
        ordering = ["incident", "started_at", "id"]
        constraints = [
            # At most one pause of an incident is open at a time.
            models.UniqueConstraint(
                fields=["incident"],
                condition=models.Q(ended_at__isnull=True),
                name="pause_one_open_per_incident",
            )
        ]
        verbose_name = _("pause")
        verbose_name_plural = _("pauses")

    def __str__(self):
        return f"{self.incident_id} paused {self.started_at:%Y-%m-%d %H:%M}"


class Grading(models.Model):
    """One grading/diagnosis of an incident (问题分级与诊断); every regrade is kept."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="gradings")
    severity = models.CharField(_("severity"), max_length=2, choices=Severity.choices)
    previous_severity = models.CharField(
        _("previous severity"), max_length=2, choices=Severity.choices
    )
    diagnosis = models.TextField(_("diagnosis"))
    reproduced = models.BooleanField(_("reproduced"), null=True, blank=True)
    findings = models.TextField(_("logs and monitoring findings"), blank=True)
    impact_assessment = models.TextField(_("impact assessment"), blank=True)
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("graded by"),
    )
    graded_at = models.DateTimeField(_("graded at"))

    class Meta:
        ordering = ["graded_at", "id"]
        verbose_name = _("grading")
        verbose_name_plural = _("gradings")

    def __str__(self):
        return f"{self.incident.number} {self.previous_severity}→{self.severity}"


class Assignment(models.Model):
    """One assignment (任务分配): owner, helpers, goal and time limit; history kept."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="assignments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("owner"),
    )
    helpers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        related_name="+",
        blank=True,
        verbose_name=_("helpers"),
    )
    goal = models.TextField(_("goal"), blank=True)
    time_limit = models.DateTimeField(_("time limit"))
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assigned by"),
    )
    assigned_at = models.DateTimeField(_("assigned at"))

    class Meta:
        ordering = ["assigned_at", "id"]
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")

    def __str__(self):
        return f"{self.incident.number} → {self.owner}"


class ExternalContact(models.Model):
    """A person outside the team (third party, vendor) the incident depends on."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="external_contacts"
    )
    name = models.CharField(_("name"), max_length=100)
    organisation = models.CharField(_("organisation"), max_length=100, blank=True)
    contact = models.CharField(_("contact"), max_length=200, blank=True)
    owes = models.TextField(_("what they owe us"), blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    added_at = models.DateTimeField(_("added at"))

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("external contact")
        verbose_name_plural = _("external contacts")

    def __str__(self):
        return f"{self.name} ({self.organisation})"


class LogEntry(models.Model):
    """One line of the process log (处理过程记录)."""

    class Kind(models.TextChoices):
        ACTION = "action", _("Action")
        PROGRESS = "progress", _("Progress update")
        WORKAROUND = "workaround", _("Temporary workaround")
        FIX = "fix", _("Long-term fix")
        BLOCKER = "blocker", _("Blocker")
        NOTE = "note", _("Note")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="log_entries")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="log_entries",
        verbose_name=_("author"),
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    text = models.TextField(_("text"))
    happened_at = models.DateTimeField(_("happened at"))
    created_at = models.DateTimeField(_("logged at"))

    class Meta:
        ordering = ["happened_at", "id"]
        indexes = [models.Index(fields=["incident", "happened_at"], name="logentry_incident_time")]
        verbose_name = _("log entry")
        verbose_name_plural = _("log entries")

    def __str__(self):
        return f"{self.incident.number} {self.kind}: {self.text[:40]}"


class Resolution(models.Model):
    """A resolve submission (workaround and fix) awaiting or past verification."""

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Awaiting verification")
        PASSED = "passed", _("Passed verification")
        FAILED = "failed", _("Failed verification")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="resolutions")
    workaround = models.TextField(_("temporary workaround"), blank=True)
    fix = models.TextField(_("long-term fix"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("submitted by"),
    )
    submitted_at = models.DateTimeField(_("submitted at"))
    outcome = models.CharField(
        _("outcome"), max_length=20, choices=Outcome.choices, default=Outcome.PENDING
    )

    class Meta:
        ordering = ["submitted_at", "id"]
        verbose_name = _("resolution")
        verbose_name_plural = _("resolutions")

    def __str__(self):
        return f"{self.incident.number} {self.get_outcome_display()}"


class Verification(models.Model):
    """One verification attempt (结果验证): three checks, each with evidence."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="verifications")
    resolution = models.ForeignKey(
        Resolution, on_delete=models.CASCADE, related_name="verifications"
    )
    functional_ok = models.BooleanField(_("functional test passed"))
    functional_evidence = models.TextField(_("functional test evidence"), blank=True)
    regression_ok = models.BooleanField(_("regression test passed"))
    regression_evidence = models.TextField(_("regression test evidence"), blank=True)
    monitoring_ok = models.BooleanField(_("monitoring normal"))
    monitoring_evidence = models.TextField(_("monitoring evidence"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    passed = models.BooleanField(_("passed"))
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("verifier"),
    )
    verified_at = models.DateTimeField(_("verified at"))

    class Meta:
        ordering = ["verified_at", "id"]
        verbose_name = _("verification")
        verbose_name_plural = _("verifications")

    def __str__(self):
        return f"{self.incident.number} {'passed' if self.passed else 'failed'}"


class UserNotification(models.Model):
    """Affected users told the problem is fixed (step 5)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="user_notifications"
    )
    message = models.TextField(_("message"))
    notified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("notified by"),
    )
    notified_at = models.DateTimeField(_("notified at"))

    class Meta:
        ordering = ["notified_at", "id"]
        verbose_name = _("user notification")
        verbose_name_plural = _("user notifications")

    def __str__(self):
        return f"{self.incident_id} {self.notified_at:%Y-%m-%d %H:%M}"


class UserFeedback(models.Model):
    """What affected users said after being told (step 5)."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="feedback")
    text = models.TextField(_("feedback"))
    satisfied = models.BooleanField(_("satisfied"), null=True, blank=True)
    # An affected user's own answer through the status page's feedback link (a
    # rating 1–5 and the text), rather than what staff wrote down.
    rating = models.PositiveSmallIntegerField(
        _("rating"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
    )
    by_affected_user = models.BooleanField(_("from an affected user"), default=False)
    updated_at = models.DateTimeField(_("changed at"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("recorded by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"))

    class Meta:
        ordering = ["recorded_at", "id"]
        verbose_name = _("user feedback")
        verbose_name_plural = _("user feedback")

    def __str__(self):
        return f"{self.incident_id} {self.text[:40]}"


class AppendOnlyError(Exception):
    pass


class TimelineEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("timeline events are never edited")

    def delete(self):
        raise AppendOnlyError("timeline events are never deleted")


class TimelineEvent(models.Model):
    """Audit trail: every state and field change, written with the change."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Filed")
        UPDATED = "updated", _("Details edited")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        GRADED = "graded", _("Graded")
        ASSIGNED = "assigned", _("Assigned")
        LOGGED = "logged", _("Log entry added")
        STARTED = "started", _("Work started")
        RESOLUTION_SUBMITTED = "resolution_submitted", _("Resolution submitted")
        VERIFICATION_PASSED = "verification_passed", _("Verification passed")
        VERIFICATION_FAILED = "verification_failed", _("Verification failed")
        USERS_NOTIFIED = "users_notified", _("Users notified")
        FEEDBACK_RECORDED = "feedback_recorded", _("User feedback recorded")
        ARCHIVED = "archived", _("Archived")
        REOPENED = "reopened", _("Reopened")
        CANCELLED = "cancelled", _("Cancelled")
        PHONE_CALL = "phone_call", _("Tech lead phoned")
        POSTMORTEM_SAVED = "postmortem_saved", _("Post-mortem saved")
        ACTION_ITEM_ADDED = "action_item_added", _("Improvement action added")
        ACTION_ITEM_DONE = "action_item_done", _("Improvement action done")
        PAUSED = "paused", _("SLA paused")
        RESUMED = "resumed", _("SLA resumed")
        PUBLISHED = "published", _("Published on the status page")
        PUBLIC_UPDATE = "public_update", _("Status page updated")

    # PROTECT: an incident with a history is cancelled, never deleted.
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        verbose_name=_("actor"),
    )
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    from_state = models.CharField(_("from state"), max_length=20, blank=True)
    to_state = models.CharField(_("to state"), max_length=20, blank=True)
    changes = models.JSONField(
        _("changes"), default=dict, blank=True, help_text=_("field: [old, new]")
    )
    # `data` keeps the facts of a generated text (kind-specific: the level and
    # source filed, the failed checks…) so each reader sees it in their language
    # (incidents.timeline.describe); `message` holds the English text, or what a
    # person wrote, and is all a row written before `data` existed has.
    message = models.TextField(_("message"), blank=True)
    data = models.JSONField(_("facts"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"))

    objects = TimelineEventQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["incident", "created_at"], name="event_incident_time")]
        verbose_name = _("timeline event")
        verbose_name_plural = _("timeline events")

    def __str__(self):
        return f"{self.incident_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise AppendOnlyError("timeline events are never edited")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("timeline events are never deleted")


def default_severity_rules() -> list:
    return []


DEFAULT_ALERT_RATE_LIMIT = 600


def default_storm_thresholds() -> list:
    return [10, 100, 1000]


class AlertIntegration(models.Model):
    """A monitoring system allowed to file incidents through /api/v1/alerts/<token>/.

    Only a SHA-256 of the token is stored; the token is shown once at creation.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    team = models.ForeignKey(
        Team, on_delete=models.PROTECT, related_name="integrations", verbose_name=_("team")
    )
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    token_hint = models.CharField(
        _("token starts with"), max_length=12, editable=False, help_text=_("For recognition.")
    )
    signing_secret = models.CharField(
        _("signing secret"),
        max_length=200,
        blank=True,
        help_text=_(
            "If set, every request must carry X-Responder-Timestamp and "
            "X-Responder-Signature: sha256=HMAC(secret, timestamp + '.' + body)."
        ),
    )
    # A 10,000-alert storm arrives as ~200 deliveries of 50 within a minute: the
    # default takes it without one 429 (a refused delivery waits for the retry).
    rate_limit_per_minute = models.PositiveIntegerField(
        _("requests per minute"), default=DEFAULT_ALERT_RATE_LIMIT
    )
    severity_rules = models.JSONField(
        _("severity rules"),
        default=default_severity_rules,
        blank=True,
        help_text=_(
            'First match wins, before the defaults: [{"label": "severity", '
            '"equals": ["critical"], "severity": "P0"}]'
        ),
    )
    default_severity = models.CharField(
        _("severity when no rule matches"),
        max_length=2,
        choices=Severity.choices,
        default=Severity.P2,
    )
    group_by = models.JSONField(
        _("group by labels"),
        default=list,
        blank=True,
        help_text=_(
            'Labels whose values make a group, e.g. ["alertname", "cluster"]. Empty: '
            "Alertmanager's group key, or the generic payload's group field."
        ),
    )
    group_window_minutes = models.PositiveIntegerField(
        _("group window (minutes)"),
        null=True,
        blank=True,
        help_text=_(
            "Alerts join a group's open incident only within this many minutes of its "
            "first alert. Empty: while the incident is open."
        ),
    )
    storm_thresholds = models.JSONField(
        _("storm thresholds"),
        default=default_storm_thresholds,
        blank=True,
        help_text=_("Alerts in one incident at which the tech leads hear of a storm, once each."),
    )
    flap_changes = models.PositiveSmallIntegerField(
        _("flapping: state changes"), default=4, validators=[MinValueValidator(2)]
    )
    flap_window_minutes = models.PositiveIntegerField(
        _("flapping: within minutes"), default=60, validators=[MinValueValidator(1)]
    )
    flap_settle_minutes = models.PositiveIntegerField(
        _("flapping: stable after minutes"), default=30, validators=[MinValueValidator(1)]
    )
    open_after = models.PositiveIntegerField(
        _("open after N firings"),
        null=True,
        blank=True,
        validators=[MinValueValidator(2)],
        help_text=_("Open an incident only after this many firings of a group. Empty: at once."),
    )
    open_after_minutes = models.PositiveIntegerField(
        _("…within minutes"), default=10, validators=[MinValueValidator(1)]
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("alert integration")
        verbose_name_plural = _("alert integrations")

    def __str__(self):
        return self.name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AlertRateWindow(models.Model):
    """Requests of one integration in one minute (fixed-window rate limit)."""

    integration = models.ForeignKey(AlertIntegration, on_delete=models.CASCADE)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "window_start"], name="alert_rate_window_unique"
            )
        ]

    def __str__(self):
        return f"{self.integration_id} {self.window_start:%H:%M} {self.count}"


class SignatureSeen(models.Model):
    """A signed alert request already received: the same one again is a replay."""

    integration = models.ForeignKey(AlertIntegration, on_delete=models.CASCADE)
    signature = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "signature"], name="signature_seen_unique"
            )
        ]

    def __str__(self):
        return f"{self.integration_id} {self.signature[:12]}"


class Alert(models.Model):
    """One alert (one fingerprint under one integration) and the incident it belongs to.

    An alert waiting for its group to reach "open after N" firings has no incident
    and is pending; one held by a maintenance window has no incident and names
    the window.
    """

    class Status(models.TextChoices):
        FIRING = "firing", _("Firing")
        RESOLVED = "resolved", _("Resolved")

    # No index of its own: alert_group (integration, group_key) serves every lookup
    # by integration; a lone one misleads PostgreSQL into scanning an integration's
    # every alert when its statistics have not seen a new integration yet.
    integration = models.ForeignKey(
        AlertIntegration, on_delete=models.CASCADE, related_name="alerts", db_index=False
    )
    group_key = models.CharField(_("group key"), max_length=500)
    fingerprint = models.CharField(_("fingerprint"), max_length=200)
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="alerts", null=True, blank=True
    )
    held_by = models.ForeignKey(
        "MaintenanceWindow",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="held_alerts",
        verbose_name=_("held by maintenance window"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    summary = models.TextField(_("summary"), blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    starts_at = models.DateTimeField(_("starts at"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))
    events = models.PositiveIntegerField(_("webhook events"), default=1)
    # Flapping: the times of its recent state changes (within the integration's
    # flapping window), whether it flaps now, and since when its state is stable.
    changes = models.JSONField(_("recent state changes"), default=list, blank=True)
    flapping = models.BooleanField(_("flapping"), default=False)
    changed_at = models.DateTimeField(_("state changed at"), null=True, blank=True)
    pending = models.BooleanField(_("pending"), default=False)

    class Meta:
        ordering = ["first_seen", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "fingerprint"], name="alert_unique_fingerprint_per_incident"
            ),
            models.UniqueConstraint(
                fields=["integration", "fingerprint"],
                condition=models.Q(incident__isnull=True),
                name="alert_unique_unattached_fingerprint",
            ),
        ]
        indexes = [
            models.Index(fields=["integration", "group_key"], name="alert_group"),
            models.Index(
                fields=["integration", "first_seen"],
                condition=models.Q(pending=True),
                name="alert_pending",
            ),
            models.Index(
                fields=["held_by"],
                condition=models.Q(held_by__isnull=False),
                name="alert_held",
            ),
        ]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")

    def __str__(self):
        return f"{self.fingerprint} ({self.status})"


class MaintenanceWindow(models.Model):
    """Planned work: while one of its occurrences runs, matching alerts page nobody.

    A one-off window has `starts_at`/`ends_at`; a recurring one an RFC 5545
    `recurrence` (computed in the team's time zone from `starts_at`) and
    `duration_minutes`, optionally only on China's working or rest days.
    """

    class Mode(models.TextChoices):
        SUPPRESS = "suppress", _("Suppress: no incident, no notice")
        MARK = "mark", _("Mark: open the incident marked, clocks held")

    class Calendar(models.TextChoices):
        ANY = "", _("Every occurrence")
        WORKDAYS = "workdays", _("Only on China's working days")
        RESTDAYS = "restdays", _("Only on China's rest days")

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="maintenance_windows", verbose_name=_("team")
    )
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"), null=True, blank=True)
    recurrence = models.CharField(_("recurrence (RRULE)"), max_length=500, blank=True)
    duration_minutes = models.PositiveIntegerField(_("duration (minutes)"), null=True, blank=True)
    matchers = models.JSONField(_("matchers"), default=list, blank=True)
    services = models.ManyToManyField(
        Service, blank=True, related_name="maintenance_windows", verbose_name=_("services")
    )
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.SUPPRESS)
    calendar = models.CharField(
        _("calendar"), max_length=10, choices=Calendar.choices, blank=True, default=Calendar.ANY
    )
    public = models.BooleanField(_("public"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    # An occurrence ended early by hand (its start); a one-off window ended early.
    ended_occurrence = models.DateTimeField(_("occurrence ended early"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    suppressed_alerts = models.PositiveIntegerField(_("suppressed alerts"), default=0)
    # The sweep's bookkeeping: the occurrence it announced as started, and the
    # occurrence it sent the 3-hour reminder for.
    started_occurrence = models.DateTimeField(_("started occurrence"), null=True, blank=True)
    reminded_occurrence = models.DateTimeField(_("reminded occurrence"), null=True, blank=True)
    # Alertmanager silence mirroring this window (ALERTMANAGER_URL).
    silence_id = models.CharField(_("Alertmanager silence"), max_length=100, blank=True)
    silence_error = models.TextField(_("silence error"), blank=True)
    silence_checked_at = models.DateTimeField(_("silence checked at"), null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["team", "starts_at"], name="maintenance_team_start")]
        verbose_name = _("maintenance window")
        verbose_name_plural = _("maintenance windows")

    def __str__(self):
        return self.title


class TeamEvent(models.Model):
    """A team's own timeline: maintenance windows starting and ending."""

    class Kind(models.TextChoices):
        MAINTENANCE_STARTED = "maintenance_started", _("Maintenance started")
        MAINTENANCE_ENDED = "maintenance_ended", _("Maintenance ended")

    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="events", verbose_name=_("team")
    )
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    at = models.DateTimeField(_("at"))
    text = models.TextField(_("text"), blank=True)
    window = models.ForeignKey(
        MaintenanceWindow,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("maintenance window"),
    )
    occurrence = models.DateTimeField(_("occurrence"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            # A start or end of one occurrence is written once, however many sweeps see it.
            models.UniqueConstraint(
                fields=["window", "occurrence", "kind"], name="team_event_once_per_occurrence"
            )
        ]
        indexes = [models.Index(fields=["team", "-at"], name="team_event_recent")]
        verbose_name = _("team event")
        verbose_name_plural = _("team events")

    def __str__(self):
        return f"{self.team_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class IncidentTally(models.Model):
    """How many incidents each (team, state, severity) has, kept exact by the services.

    Lets a list answer its total without counting tens of thousands of rows;
    `manage.py rebuild_tallies` recomputes it from the incidents.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices)
    severity = models.CharField(max_length=2, choices=Severity.choices)
    count = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "state", "severity"], name="incident_tally_unique"
            )
        ]

    def __str__(self):
        return f"{self.team_id}/{self.state}/{self.severity}: {self.count}"


class IncidentFigures(models.Model):
    """The metrics' figures of the finished incidents received on one day (or in one
    month) of one team and level: counts and duration histograms, kept exact by the
    services (incidents.figures); `manage.py rebuild_metrics` recomputes them."""

    class Span(models.TextChoices):
        DAY = "day", _("day")
        MONTH = "month", _("month")

    COUNTS = (
        "count",
        "cancelled",
        "respond_hits",
        "respond_decided",
        "resolve_hits",
        "resolve_decided",
        "respond_wall_hits",
        "respond_wall_decided",
        "resolve_wall_hits",
        "resolve_wall_decided",
        "update_hits",
        "update_decided",
        "verified",
        "failed_verification",
        "reopened",
    )
    HISTOGRAMS = ("mtta", "mttr", "mtta_sla", "mttr_sla")

    span = models.CharField(max_length=5, choices=Span.choices)
    start = models.DateField(help_text=_("The day, or the first day of the month (site's zone)."))
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    severity = models.CharField(max_length=2, choices=Severity.choices)
    # The level's windows the wall-time compliance was counted with.
    respond_window = models.DurationField()
    resolve_window = models.DurationField()
    count = models.IntegerField(default=0)
    cancelled = models.IntegerField(default=0)
    respond_hits = models.IntegerField(default=0)
    respond_decided = models.IntegerField(default=0)
    resolve_hits = models.IntegerField(default=0)
    resolve_decided = models.IntegerField(default=0)
    respond_wall_hits = models.IntegerField(default=0)
    respond_wall_decided = models.IntegerField(default=0)
    resolve_wall_hits = models.IntegerField(default=0)
    resolve_wall_decided = models.IntegerField(default=0)
    update_hits = models.IntegerField(default=0)
    update_decided = models.IntegerField(default=0)
    verified = models.IntegerField(default=0)
    failed_verification = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    # Histograms: incidents per bucket (incidents.figures.BOUNDS), trailing zeros left out.
    mtta = models.JSONField(default=list)
    mttr = models.JSONField(default=list)
    mtta_sla = models.JSONField(default=list)
    mttr_sla = models.JSONField(default=list)
    # Root-cause category → incidents (not cancelled) whose post-mortem names it.
    causes = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["span", "start", "team", "severity"], name="incident_figures_unique"
            )
        ]

    def __str__(self):
        return f"{self.span} {self.start} {self.team_id}/{self.severity}: {self.count}"


class IncidentSearchRow(models.Model):
    """A narrow copy of what the archive's text search filters on, one row per
    incident, kept by a PostgreSQL trigger (migration 0023) whatever writes the
    incident: Django never writes it. Counting the matches of a common word
    ("连接池": 5,000 of 100k incidents) visited a page of the wide incident
    table per match (21 ms); these rows are a sixth of its size (4.6 ms).
    SQLite (the embedded default) has no trigger and leaves it empty: the
    archive counts the incidents themselves there (selectors.archive_total)."""

    # The incident's id, and its columns under their own names, so the same
    # filters (rules.visible_incidents, selectors._archive_filters) apply to both.
    id = models.BigIntegerField(primary_key=True)
    team_id = models.BigIntegerField()
    state = models.CharField(max_length=20)
    severity = models.CharField(max_length=2)
    category = models.CharField(max_length=20)
    received_at = models.DateTimeField()
    number = models.CharField(max_length=32)
    # UPPER(title), as the database spells it: a case-blind contains needs no
    # UPPER() of each match (selectors._archive_filters).
    title_upper = models.CharField(max_length=200)

    class Meta:
        db_table = "incidents_incident_search"
        # The number's equality; the title's trigram index is the migration's.
        indexes = [models.Index(fields=["number"], name="incident_search_number")]

    def __str__(self):
        return f"{self.number} {self.title_upper}"
