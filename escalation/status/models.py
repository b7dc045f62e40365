"""The status page's data: components, publications and their updates,
subscribers, the messages sent to them and the feedback links of the resolved
mails."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident, Service, Team, UserFeedback


class Impact(models.TextChoices):
    """How badly a published incident hurts its components (worst wins)."""

    DEGRADED = "degraded", _("Degraded performance")
    PARTIAL_OUTAGE = "partial_outage", _("Partial outage")
    MAJOR_OUTAGE = "major_outage", _("Major outage")


class PublicStatus(models.TextChoices):
    """Where a published incident stands, in the public's words."""

    INVESTIGATING = "investigating", _("Investigating")
    IDENTIFIED = "identified", _("Identified")
    MONITORING = "monitoring", _("Monitoring")
    RESOLVED = "resolved", _("Resolved")


class ComponentStatus(models.TextChoices):
    """A component's status on the public page, best first."""

    OPERATIONAL = "operational", _("Operational")
    MAINTENANCE = "maintenance", _("Under maintenance")
    DEGRADED = "degraded", _("Degraded performance")
    PARTIAL_OUTAGE = "partial_outage", _("Partial outage")
    MAJOR_OUTAGE = "major_outage", _("Major outage")


# Worse is higher: a component shows the worst of its open incidents' impacts.
IMPACT_RANK = {Impact.DEGRADED: 1, Impact.PARTIAL_OUTAGE: 2, Impact.MAJOR_OUTAGE: 3}


class Component(models.Model):
    """A part of the product its users see (the website, payments, the API)."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name"), max_length=100)
    team = models.ForeignKey(
        Team, on_delete=models.CASCADE, related_name="components", verbose_name=_("team")
    )
    description = models.TextField(_("description"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="components",
        verbose_name=_("services"),
        help_text=_("The team's services behind it: their public maintenance shows here."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["order", "name", "id"]
        verbose_name = _("status page component")
        verbose_name_plural = _("status page components")

    def __str__(self):
        return self.name


class Publication(models.Model):
    """An incident as the public sees it: only the words written for the public."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="publication", verbose_name=_("incident")
    )
    public_title = models.CharField(_("public title"), max_length=200)
    impact = models.CharField(_("impact"), max_length=20, choices=Impact.choices)
    status = models.CharField(
        _("public status"),
        max_length=20,
        choices=PublicStatus.choices,
        default=PublicStatus.INVESTIGATING,
    )
    components = models.ManyToManyField(
        Component, related_name="publications", verbose_name=_("components")
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(_("published at"))
    # Set by the `resolved` update, cleared by a later one that reopens it.
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("last public update"))

    class Meta:
        ordering = ["-published_at", "-id"]
        indexes = [
            models.Index(fields=["resolved_at", "published_at"], name="publication_open_recent")
        ]
        verbose_name = _("publication")
        verbose_name_plural = _("publications")

    def __str__(self):
        return self.public_title

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class PublicUpdate(models.Model):
    """One public update of a publication (the first is the publishing itself)."""

    publication = models.ForeignKey(Publication, on_delete=models.CASCADE, related_name="updates")
    status = models.CharField(_("public status"), max_length=20, choices=PublicStatus.choices)
    impact = models.CharField(_("impact"), max_length=20, choices=Impact.choices)
    message = models.TextField(_("message"))
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("posted by"),
    )
    posted_at = models.DateTimeField(_("posted at"))
    # When the worker wrote its messages to the subscribers (None: still to do;
    # the sweep hands a forgotten one to the worker again).
    fanned_out_at = models.DateTimeField(_("sent to subscribers at"), null=True, blank=True)

    class Meta:
        ordering = ["-posted_at", "-id"]
        indexes = [models.Index(fields=["-posted_at"], name="public_update_recent")]
        verbose_name = _("public update")
        verbose_name_plural = _("public updates")

    def __str__(self):
        return f"{self.publication_id} {self.status} {self.posted_at:%Y-%m-%d %H:%M}"


class Subscriber(models.Model):
    """Someone told of public updates: a confirmed email address (double opt-in),
    or a group robot or webhook an administrator added."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        WEBHOOK = "webhook", _("Generic JSON webhook (signed with the secret)")
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk robot (signed)")
        FEISHU = "feishu", _("Feishu bot (signed)")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.EMAIL)
    address = models.CharField(
        _("address"), max_length=500, help_text=_("The email address, or the robot's URL.")
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=200,
        blank=True,
        help_text=_("DingTalk, Feishu and webhooks: the messages are signed with it."),
    )
    components = models.ManyToManyField(
        Component,
        blank=True,
        related_name="subscribers",
        verbose_name=_("components"),
        help_text=_("Empty: every component."),
    )
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    created_at = models.DateTimeField(_("subscribed at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )

    class Meta:
        ordering = ["kind", "address"]
        constraints = [models.UniqueConstraint(fields=["kind", "address"], name="subscriber_once")]
        indexes = [models.Index(fields=["confirmed_at"], name="subscriber_confirmed")]
        verbose_name = _("status page subscriber")
        verbose_name_plural = _("status page subscribers")

    def __str__(self):
        return f"{self.kind}: {self.address}"


class StatusMessage(models.Model):
    """One mail or robot message to one subscriber: the confirmation, or one
    public update. Sent by the worker, retried with backoff like notices."""

    class Kind(models.TextChoices):
        CONFIRM = "confirm", _("Confirmation")
        UPDATE = "update", _("Public update")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    update = models.ForeignKey(
        PublicUpdate, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # One update reaches each subscriber once, however often the fan-out runs.
            models.UniqueConstraint(
                fields=["subscriber", "update"],
                condition=models.Q(update__isnull=False),
                name="status_message_once_per_update",
            )
        ]
        indexes = [models.Index(fields=["status"], name="status_message_status")]
        verbose_name = _("status page message")
        verbose_name_plural = _("status page messages")

    def __str__(self):
        return f"{self.subscriber_id} {self.kind} {self.status}"


class FeedbackRequest(models.Model):
    """The personal link of a `resolved` mail: one answer (a rating and a comment)
    from one affected user, recorded on the incident and editable for a while."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="feedback_requests"
    )
    subscriber = models.ForeignKey(
        Subscriber,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="feedback_requests",
    )
    token = models.CharField(_("token"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("sent at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    feedback = models.OneToOneField(
        UserFeedback,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="request",
        verbose_name=_("answer"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One link per affected user and incident, however often it is resolved.
            models.UniqueConstraint(fields=["incident", "subscriber"], name="feedback_request_once")
        ]
        verbose_name = _("feedback request")
        verbose_name_plural = _("feedback requests")

    def __str__(self):
        return f"{self.incident_id} {self.created_at:%Y-%m-%d}"


class StatusPage(models.Model):
    """One row: the version of what the public page shows. Every write that
    changes it bumps the version, so every process's cache sees the change at
    once (the cache key holds the version)."""

    version = models.PositiveBigIntegerField(_("version"), default=0)
    changed_at = models.DateTimeField(_("changed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("status page")
        verbose_name_plural = _("status page")

    def __str__(self):
        return f"status page v{self.version}"
