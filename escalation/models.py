"""Deadlines policy and the signs of life of the periodic machinery.

Deadline, Notice and Delivery (the escalation engine proper) come with the
escalation issue; this module holds what the foundation needs now.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Severity


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
        _("warn at (% of the resolve window)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )
    goal = models.CharField(_("goal"), max_length=200, blank=True)

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
