"""Deadline policy, the escalation ladder, and what the engine writes.

- SlaPolicy: respond / resolve / update minutes per level (PROCESS.md's table),
  counted 24×7 or on a BusinessCalendar (working hours, holidays, 调休).
- LadderStep: who is told at each level of each clock, and when.
- Deadline: one row per running clock of an incident, with when its next
  notice is due (`next_at`, indexed): the sweep reads only what is due.
- Notice: one per (incident, clock, cycle, level), unique — never sent twice.
- Delivery: one per recipient and channel, with status, attempts, last error.
- RobotSlot: how many messages a chat robot was sent in one minute (its limit).
- UnreadCounter: each user's unread in-app notices, kept as a number.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident, Severity


class Clock(models.TextChoices):
    RESPOND = "respond", _("Response")
    RESOLVE = "resolve", _("Resolution")
    UPDATE = "update", _("Progress update")
    WARNING = "warning", _("Resolution warning")
    PAGE = "page", _("Urgent page")
    BLOCKER = "blocker", _("Blocker")
    ACTION = "action", _("Improvement action overdue")
    PAUSE = "pause", _("Paused too long")
    HANDOVER = "handover", _("On-call handover")
    GAP = "gap", _("On-call coverage gap")
    VERIFY = "verify", _("Verification failed")
    STORM = "storm", _("Alert storm")
    MAINTENANCE = "window", _("Maintenance starts soon")


# Clocks that fire once, at once, when something happens (not when time runs out).
ONE_SHOT_CLOCKS = frozenset(
    {Clock.PAGE, Clock.BLOCKER, Clock.ACTION, Clock.VERIFY, Clock.STORM, Clock.MAINTENANCE}
)
# Clocks of a team's duty roster, not of an incident (escalation.roster.sweep).
ROSTER_CLOCKS = frozenset({Clock.HANDOVER, Clock.GAP})


class BusinessCalendar(models.Model):
    """Working hours per weekday, mainland China's holidays and make-up working days
    (调休) if wanted, and the days an administrator adds (escalation.calendars)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    china_holidays = models.BooleanField(
        _("mainland China holidays and make-up working days"),
        default=True,
        help_text=_("From the chinese-calendar library, for the years it knows."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self):
        return self.name


class WorkingHours(models.Model):
    """One working interval of a weekday (several make a split day)."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="hours", verbose_name=_("calendar")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        ordering = ["calendar", "weekday", "start"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="working_hours_end_after_start"
            )
        ]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")

    def __str__(self):
        return f"{self.get_weekday_display()} {self.start:%H:%M}–{self.end:%H:%M}"


class CalendarDay(models.Model):
    """A day the administrator declares a holiday or a working day; it wins over
    the weekday and over the library."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKDAY = "workday", _("Working day")

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="days", verbose_name=_("calendar")
    )
    day = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["calendar", "day"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "day"], name="calendar_day_unique")
        ]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")

    def __str__(self):
        return f"{self.day} {self.get_kind_display()}"


class SlaPolicy(models.Model):
    """Response, resolution and update deadlines of one severity level.

    Seeded with PROCESS.md's table by a data migration; editable in the admin.
    """

    severity = models.CharField(_("severity"), max_length=2, choices=Severity.choices, unique=True)
    respond_minutes = models.PositiveIntegerField(
        _("respond within (minutes)"), validators=[MinValueValidator(1)]
    )
    resolve_minutes = models.PositiveIntegerField(
        _("resolve within (minutes)"), validators=[MinValueValidator(1)]
    )
    update_minutes = models.PositiveIntegerField(
        _("progress update every (minutes)"), validators=[MinValueValidator(1)]
    )
    warning_percent = models.PositiveSmallIntegerField(
        _("warn at (percent of the resolve window)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )
    goal = models.CharField(_("goal"), max_length=200, blank=True)
    calendar = models.ForeignKey(
        BusinessCalendar,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="policies",
        verbose_name=_("business calendar"),
        help_text=_(
            "Empty: the clocks run 24×7. Set: they count only working time of this "
            "calendar, in the team's time zone."
        ),
    )

    class Meta:
        ordering = ["severity"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self):
        return (
            f"{self.severity}: {self.respond_minutes} / {self.resolve_minutes}"
            f" / {self.update_minutes} min"
        )


class Heartbeat(models.Model):
    """Last time a periodic job ran, so a stopped beat or worker is noticed."""

    name = models.CharField(_("name"), max_length=50, primary_key=True)
    last_seen = models.DateTimeField(_("last seen"))
    count = models.PositiveBigIntegerField(_("runs"), default=0)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self):
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class LadderStep(models.Model):
    """Level `level` of `clock`: who is told, `after_minutes` past the deadline."""

    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices)
    level = models.PositiveSmallIntegerField(_("level"), validators=[MinValueValidator(1)])
    after_minutes = models.PositiveIntegerField(_("minutes after the deadline"), default=0)
    to_owner = models.BooleanField(_("owner"), default=False)
    to_tech_leads = models.BooleanField(_("tech leads"), default=False)
    to_manager = models.BooleanField(_("manager"), default=False)
    to_oncall_primary = models.BooleanField(
        _("on-call primary"),
        default=False,
        db_default=False,
        help_text=_("Whoever is on call in the team's primary layer when the step fires."),
    )
    to_oncall_secondary = models.BooleanField(
        _("on-call secondary"), default=False, db_default=False
    )

    class Meta:
        ordering = ["clock", "level"]
        constraints = [
            models.UniqueConstraint(fields=["clock", "level"], name="ladder_step_unique")
        ]
        verbose_name = _("escalation ladder step")
        verbose_name_plural = _("escalation ladder")

    def __str__(self):
        return f"{self.clock} L{self.level} +{self.after_minutes} min"


class Deadline(models.Model):
    """A running clock of an incident; kept in step by the incident services."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deadlines")
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices)
    cycle = models.BigIntegerField(
        _("cycle"), default=0, help_text=_("Changes when the clock restarts.")
    )
    due_at = models.DateTimeField(_("deadline"))
    next_level = models.PositiveSmallIntegerField(_("next level"), default=1)
    next_at = models.DateTimeField(
        _("next notice due"), null=True, blank=True, help_text=_("Empty: nothing pending.")
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "clock"], name="deadline_one_per_clock")
        ]
        indexes = [
            models.Index(
                fields=["next_at"],
                name="deadline_pending",
                condition=models.Q(next_at__isnull=False),
            )
        ]
        verbose_name = _("deadline")
        verbose_name_plural = _("deadlines")

    def __str__(self):
        return f"{self.incident_id} {self.clock} due {self.due_at:%Y-%m-%d %H:%M}"


class Notice(models.Model):
    """One escalation: a clock of an incident reached a level of its ladder; or a
    team's roster needs someone (a handover, a coverage gap: no incident then)."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="notices", null=True, blank=True
    )
    team = models.ForeignKey(
        "incidents.Team",
        on_delete=models.CASCADE,
        related_name="roster_notices",
        null=True,
        blank=True,
        help_text=_("Set on a roster notice (handover, coverage gap), which has no incident."),
    )
    clock = models.CharField(_("clock"), max_length=10, choices=Clock.choices)
    cycle = models.BigIntegerField(_("cycle"), default=0)
    level = models.PositiveSmallIntegerField(_("level"))
    deadline = models.DateTimeField(_("deadline"))
    due_at = models.DateTimeField(_("level due at"))
    created_at = models.DateTimeField(_("created at"))
    late = models.BooleanField(
        _("late"), default=False, help_text=_("Sent well after it was due (catch-up).")
    )
    late_seconds = models.PositiveIntegerField(_("late by (seconds)"), default=0)
    recipients = models.JSONField(_("recipients"), default=list, blank=True)
    details = models.JSONField(
        _("details"),
        null=True,
        blank=True,
        help_text=_(
            "Who was on call and whether the step fell back to the tech leads; what a "
            "handover lists."
        ),
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "clock", "cycle", "level"], name="notice_once_per_level"
            ),
            # A roster notice has no incident: once per team, handoff (or gap) and layer.
            models.UniqueConstraint(
                fields=["team", "clock", "cycle", "level"],
                condition=models.Q(incident__isnull=True),
                name="roster_notice_once",
            ),
        ]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")

    def __str__(self):
        return f"{self.incident_id or self.team_id} {self.clock} L{self.level}"


class TeamChannel(models.Model):
    """A team's group chat or webhook that also receives its escalation notices."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", _("Generic JSON webhook")
        SLACK = "slack", _("Slack-compatible webhook")
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk robot")
        FEISHU = "feishu", _("Feishu bot")

    team = models.ForeignKey(
        "incidents.Team", on_delete=models.CASCADE, related_name="channels", verbose_name=_("team")
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(
        _("signing secret"), max_length=200, blank=True, help_text=_("DingTalk and Feishu.")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["team", "name"]
        verbose_name = _("team channel")
        verbose_name_plural = _("team channels")

    def __str__(self):
        return f"{self.team} · {self.name} ({self.kind})"


class Delivery(models.Model):
    """A notice on its way to one recipient through one channel."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        # Over the chat robot's messages a minute: goes out in its next digest.
        HELD = "held", _("Held: robot limit, goes out in the next digest")

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(_("channel"), max_length=20)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    team_channel = models.ForeignKey(
        TeamChannel, on_delete=models.SET_NULL, null=True, blank=True, related_name="deliveries"
    )
    address = models.CharField(_("address"), max_length=500, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    digest = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="digested",
        verbose_name=_("sent in digest"),
        help_text=_(
            "A chat robot's digest of held deliveries: the delivery that carries it "
            "(itself, for that one)."
        ),
    )

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["user", "channel", "read_at"], name="delivery_inbox"),
            models.Index(fields=["status"], name="delivery_status"),
        ]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self):
        return f"{self.notice_id} {self.channel} {self.status}"


class RobotSlot(models.Model):
    """Messages sent to one chat robot (by its webhook URL's hash) in one minute.

    Claimed by a conditional UPDATE (`sent < limit`), so several workers never
    send a robot more than its limit; old minutes are pruned by the sweep.
    """

    robot = models.CharField(_("robot"), max_length=64, help_text=_("SHA-256 of its URL."))
    minute = models.DateTimeField(_("minute"))
    sent = models.PositiveIntegerField(_("messages sent"), default=0)

    class Meta:
        ordering = ["-minute", "robot"]
        constraints = [
            # Minute first: the prune deletes by minute through the same index.
            models.UniqueConstraint(fields=["minute", "robot"], name="robot_slot_once_per_minute")
        ]
        verbose_name = _("robot message count")
        verbose_name_plural = _("robot message counts")

    def __str__(self):
        return f"{self.robot[:12]} {self.minute:%Y-%m-%d %H:%M} {self.sent}"


class UnreadCounter(models.Model):
    """How many in-app notices a user has not read: the number in every page's header.

    Kept with the writes rather than counted per page (escalation.unread moves it in
    the transaction that writes or reads the deliveries); no row means none unread.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="unread_counter",
    )
    count = models.PositiveIntegerField(_("unread notices"), default=0)

    class Meta:
        verbose_name = _("unread notice count")
        verbose_name_plural = _("unread notice counts")

    def __str__(self):
        return f"{self.user_id}: {self.count}"


from escalation.roster.models import (  # noqa: E402  (the roster's models need Notice's module loaded)
    CalendarFeed,
    HandoverNote,
    Layer,
    Override,
    RosterEvent,
    Rotation,
    RotationMember,
)
from escalation.status.models import (  # noqa: E402
    Component,
    FeedbackRequest,
    Publication,
    PublicUpdate,
    StatusMessage,
    StatusPage,
    Subscriber,
)

__all__ = [
    "BusinessCalendar",
    "CalendarDay",
    "CalendarFeed",
    "Clock",
    "Component",
    "Deadline",
    "Delivery",
    "FeedbackRequest",
    "HandoverNote",
    "Heartbeat",
    "LadderStep",
    "Layer",
    "Notice",
    "Override",
    "PublicUpdate",
    "Publication",
    "RobotSlot",
    "RosterEvent",
    "Rotation",
    "RotationMember",
    "SlaPolicy",
    "StatusMessage",
    "StatusPage",
    "Subscriber",
    "TeamChannel",
    "UnreadCounter",
    "WorkingHours",
]
