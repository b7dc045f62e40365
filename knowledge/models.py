"""Step 6 (归档总结): post-mortems, improvement actions and knowledge articles.

Minimal for now; the archive issue adds the gate, the editor and search.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from incidents.models import Incident


class PostMortem(models.Model):
    """The post-mortem (复盘) of one incident; required before archiving P0/P1."""

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, related_name="postmortem", verbose_name=_("incident")
    )
    summary = models.TextField(_("summary"), blank=True)
    timeline = models.TextField(_("timeline"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    lessons = models.TextField(_("lessons learned"), blank=True)
    meeting_date = models.DateField(_("meeting date"), null=True, blank=True)
    attendees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("attendees")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("post-mortem")
        verbose_name_plural = _("post-mortems")

    def __str__(self):
        return f"{self.incident.number}"


class ActionItem(models.Model):
    """An improvement action agreed in a post-mortem, tracked to done."""

    postmortem = models.ForeignKey(
        PostMortem, on_delete=models.CASCADE, related_name="action_items"
    )
    text = models.TextField(_("action"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="action_items",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"))
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")

    def __str__(self):
        return self.text[:60]


class KnowledgeArticle(models.Model):
    """What the team learned from an archived incident, findable next time."""

    incident = models.ForeignKey(
        Incident,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="articles",
        verbose_name=_("incident"),
    )
    title = models.CharField(_("title"), max_length=200)
    symptoms = models.TextField(_("symptoms"), blank=True)
    diagnosis = models.TextField(_("diagnosis"), blank=True)
    workaround = models.TextField(_("workaround"), blank=True)
    fix = models.TextField(_("fix"), blank=True)
    lessons = models.TextField(_("lessons"), blank=True)
    tags = models.CharField(_("tags"), max_length=200, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("knowledge article")
        verbose_name_plural = _("knowledge articles")

    def __str__(self):
        return self.title
