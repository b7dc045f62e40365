"""Duty rosters (值班表): who of a team is on call, layer by layer.

- Rotation: participants in order taking shifts of `shift_days` days, handed
  over at `handoff_time` in the team's time zone from `start_date`; optionally
  only on some weekdays and within a daily window (a weekday day shift, a
  night shift). Within a layer the later-defined rotation wins where two overlap.
- Override: someone covers a stretch of a layer, whole shifts or part of one;
  the later override wins where two overlap (nested overrides).
- RosterEvent: the roster's timeline, who changed what and when.
- HandoverNote: what the outgoing person leaves for the next one.
- CalendarFeed: a private, revocable iCalendar address of a user's shifts or
  of a team's schedule.

Loaded by escalation.models (the app's models module), so the app label and the
migrations stay escalation's. The arithmetic is in escalation.roster.arithmetic,
the writes in escalation.roster.services, the reads in escalation.roster.selectors.
"""

import secrets
from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext_lazy as _

from common.tokens import derived_secret, digest

ALL_WEEKDAYS = "0123456"


class Layer(models.TextChoices):
    PRIMARY = "primary", _("Primary")
    SECONDARY = "secondary", _("Secondary")


# The order layers are listed and their number in a handover notice's key.
LAYER_ORDER = {Layer.PRIMARY: 1, Layer.SECONDARY: 2}


class Rotation(models.Model):
    team = models.ForeignKey(
        "incidents.Team", on_delete=models.CASCADE, related_name="rotations", verbose_name=_("team")
    )
    name = models.CharField(_("name"), max_length=100)
    layer = models.CharField(_("layer"), max_length=10, choices=Layer.choices)
    shift_days = models.PositiveSmallIntegerField(
        _("shift length (days)"),
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text=_("1: daily, 7: weekly, or any number of days up to 28."),
    )
    handoff_time = models.TimeField(
        _("handoff time"), default=time(9, 0), help_text=_("In the team's time zone.")
    )
    start_date = models.DateField(
        _("start date"), help_text=_("The first shift begins at the handoff time of this day.")
    )
    weekdays = models.CharField(
        _("weekdays"),
        max_length=7,
        default=ALL_WEEKDAYS,
        validators=[RegexValidator(r"^[0-6]{1,7}$", _("Weekdays are digits 0 (Monday) to 6."))],
        help_text=_("The days the rotation covers, 0 = Monday … 6 = Sunday."),
    )
    day_start = models.TimeField(_("daily from"), null=True, blank=True)
    day_end = models.TimeField(
        _("daily until"),
        null=True,
        blank=True,
        help_text=_(
            "Empty with “daily from”: from hand-off to hand-off. Until before from: "
            "overnight. Until equal to from: 24 hours."
        ),
    )
    # Where the turns stand: turn `anchor_turn` is `anchor_user`'s, and the turns
    # go round `anchor_people` (user ids; empty: every participant) in the
    # participants' order. Set when the rotation is made (turn 0, the first
    # participant) and moved by every edit and every change of who may be on call,
    # so that none of them changes who is on call at that moment.
    anchor_turn = models.BigIntegerField(_("anchor turn"), default=0)
    anchor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("anchor participant"),
    )
    anchor_people = models.JSONField(_("turn order"), default=list, blank=True)
    # A rotation's past stays as it was: an edit (or a team change) of a rotation
    # that has begun keeps its settings until then as a copy that `replaces` it and
    # `ends_at` the change, and the rotation itself `begins_at` the change. A deleted
    # rotation that had begun is kept the same way, ended. Ended rows are history:
    # only the schedule of the past reads them.
    begins_at = models.DateTimeField(_("covers from"), null=True, blank=True)
    ends_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    replaces = models.ForeignKey(
        "self",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="earlier",
        verbose_name=_("earlier settings of"),
    )
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("changed at"))

    class Meta:
        ordering = ["team", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(day_start__isnull=True, day_end__isnull=True)
                | models.Q(day_start__isnull=False, day_end__isnull=False),
                name="rotation_daily_window_whole",
            )
        ]
        verbose_name = _("rotation")
        verbose_name_plural = _("rotations")

    def __str__(self):
        return f"{self.team} · {self.name} ({self.layer})"

    @property
    def identity(self) -> int:
        """The rotation this row is (an earlier version answers its rotation's id)."""
        return self.replaces_id or self.pk

    @property
    def weekday_names(self) -> str:
        """ "Mon, Wed, Fri" for a rotation kept to some weekdays; "" for every day."""
        if set(self.weekdays) == set(ALL_WEEKDAYS):
            return ""
        return ", ".join(str(WEEKDAYS_ABBR[int(d)]) for d in sorted(self.weekdays))

    @property
    def whole_days(self) -> bool:
        """Covers every hour of every day (no weekday or daily window limit)."""
        return self.day_start is None and set(self.weekdays) == set(ALL_WEEKDAYS)


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rotation_places"
    )
    position = models.PositiveSmallIntegerField(_("position"))

    class Meta:
        ordering = ["rotation", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["rotation", "position"], name="rotation_member_position_unique"
            )
        ]
        verbose_name = _("rotation participant")
        verbose_name_plural = _("rotation participants")

    def __str__(self):
        return f"{self.rotation_id} #{self.position} {self.user_id}"


class Override(models.Model):
    team = models.ForeignKey(
        "incidents.Team", on_delete=models.CASCADE, related_name="overrides", verbose_name=_("team")
    )
    layer = models.CharField(_("layer"), max_length=10, choices=Layer.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="oncall_overrides",
        verbose_name=_("on call instead"),
    )
    start = models.DateTimeField(_("from"))
    end = models.DateTimeField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("made by"),
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        ordering = ["team", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="override_end_after_start"
            )
        ]
        indexes = [models.Index(fields=["team", "end"], name="override_team_end")]
        verbose_name = _("override")
        verbose_name_plural = _("overrides")

    def __str__(self):
        return f"{self.team} {self.layer} {self.user_id} {self.start:%Y-%m-%d %H:%M}"


class RosterEvent(models.Model):
    """One change of a team's roster, written in the same transaction as the change."""

    class Kind(models.TextChoices):
        ROTATION_CREATED = "rotation_created", _("Rotation created")
        ROTATION_CHANGED = "rotation_changed", _("Rotation changed")
        ROTATION_DELETED = "rotation_deleted", _("Rotation deleted")
        OVERRIDE_CREATED = "override_created", _("Override added")
        OVERRIDE_DELETED = "override_deleted", _("Override removed")
        NOTE_ADDED = "note_added", _("Handover note left")
        TURNS_MOVED = "turns_moved", _("Turns follow a team change")

    team = models.ForeignKey(
        "incidents.Team", on_delete=models.CASCADE, related_name="roster_events"
    )
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    summary = models.CharField(_("summary"), max_length=500)
    data = models.JSONField(_("data"), default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["team", "-at"], name="roster_event_team_at")]
        verbose_name = _("roster event")
        verbose_name_plural = _("roster events")

    def __str__(self):
        return f"{self.team_id} {self.kind} {self.at:%Y-%m-%d %H:%M}"


class HandoverNote(models.Model):
    """Left by whoever is on call for the next person; sent with the next handover."""

    team = models.ForeignKey(
        "incidents.Team", on_delete=models.CASCADE, related_name="handover_notes"
    )
    layer = models.CharField(_("layer"), max_length=10, choices=Layer.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    text = models.TextField(_("note"), max_length=2000)
    created_at = models.DateTimeField(_("created at"))
    notice = models.ForeignKey(
        "escalation.Notice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handover_notes",
        help_text=_("The handover notice that carried it; empty: not handed over yet."),
    )

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("handover note")
        verbose_name_plural = _("handover notes")

    def __str__(self):
        return f"{self.team_id} {self.layer} {self.created_at:%Y-%m-%d %H:%M}"


class CalendarFeed(models.Model):
    """A private iCalendar address: the user's own shifts (no team) or a team's schedule.

    Whoever has the address reads the feed without signing in, as calendar
    programs do; revoking it makes the address answer 404 for good.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds"
    )
    team = models.ForeignKey(
        "incidents.Team",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="calendar_feeds",
    )
    # The address's secret is never stored: `token_hash` finds the feed, and the
    # secret is worked out again from `nonce` and SECRET_KEY to show it to its owner.
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    nonce = models.CharField(
        _("nonce"),
        max_length=32,
        blank=True,
        help_text=_("Empty: made before addresses were stored hashed (it works, unshown)."),
    )
    created_at = models.DateTimeField(_("created at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        ordering = ["user", "team", "-created_at"]
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self):
        return f"{self.user_id} {self.team_id or 'me'}"

    @property
    def token(self) -> str:
        """The secret in the address; "" for an address made before it was derivable."""
        return derived_secret("calendar-feed", self.nonce) if self.nonce else ""

    @classmethod
    def made(cls, *, user, team, created_at) -> "CalendarFeed":
        """A new feed (not saved) with a fresh secret."""
        nonce = secrets.token_hex(16)
        return cls(
            user=user,
            team=team,
            nonce=nonce,
            token_hash=digest(derived_secret("calendar-feed", nonce)),
            created_at=created_at,
        )

    @classmethod
    def find(cls, token: str):
        """The feed whose address holds `token`, or None."""
        return cls.objects.filter(token_hash=digest(token)).select_related("user", "team").first()
