"""The status page in the admin: administrators add group robots and webhooks as
subscribers and watch the messages; components and publications are written
through the API and the workspace (escalation.status.services), read here."""

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from escalation.status import subscriptions
from escalation.status.models import (
    Component,
    Publication,
    PublicUpdate,
    StatusMessage,
    Subscriber,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SubscriberForm(forms.ModelForm):
    # Email addresses come in only by double opt-in on the public page.
    kind = forms.ChoiceField(
        label=_("kind"),
        choices=[c for c in Subscriber.Kind.choices if c[0] != Subscriber.Kind.EMAIL],
    )

    class Meta:
        model = Subscriber
        fields = ["kind", "address", "secret", "components", "language"]
        widgets = {"secret": forms.PasswordInput(render_value=True)}

    def clean_address(self):
        address = self.cleaned_data["address"].strip()
        try:
            URLValidator(schemes=["http", "https"])(address)
        except ValidationError:
            raise ValidationError(_("Enter the robot's http(s) URL.")) from None
        return address


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    """Robots and webhooks are added here, confirmed at once; email subscribers
    (double opt-in) can be looked up and removed, not edited."""

    form = SubscriberForm
    list_display = ["address", "kind", "language", "confirmed_at", "created_at"]
    list_filter = ["kind", ("confirmed_at", admin.EmptyFieldListFilter), "language"]
    search_fields = ["address"]
    filter_horizontal = ["components"]
    readonly_fields = ["created_at", "confirmed_at", "created_by"]

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.kind == Subscriber.Kind.EMAIL:
            return False
        return super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # The form checked what the service checks; the service stamps the rest.
        subscriptions.robot_subscriber_save(subscriber=obj, actor=request.user)


@admin.register(StatusMessage)
class StatusMessageAdmin(ReadOnlyAdmin):
    """Failed messages show here (filter by status), with their last error."""

    list_display = ["subscriber", "kind", "update", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", "kind", "subscriber__kind"]
    search_fields = ["subscriber__address"]
    list_select_related = ["subscriber", "update"]
    readonly_fields = [f.name for f in StatusMessage._meta.fields]


@admin.register(Component)
class ComponentAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "team", "order"]
    list_filter = ["team"]
    list_select_related = ["team"]
    readonly_fields = ["slug", "name", "team", "description", "order", "services"]


class PublicUpdateInline(admin.TabularInline):
    model = PublicUpdate
    extra = 0
    fields = ["posted_at", "status", "impact", "message", "posted_by", "fanned_out_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Publication)
class PublicationAdmin(ReadOnlyAdmin):
    list_display = ["public_title", "incident", "impact", "status", "published_at", "resolved_at"]
    list_filter = ["status", "impact"]
    list_select_related = ["incident"]
    readonly_fields = [
        "incident",
        "public_title",
        "impact",
        "status",
        "components",
        "published_by",
        "published_at",
        "resolved_at",
        "updated_at",
    ]
    inlines = [PublicUpdateInline]
