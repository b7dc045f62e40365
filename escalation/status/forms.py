"""The workspace's status page forms: publish an incident, post a public update.

They only parse and label input; the rules are escalation.status.services'
(incident_publish, incident_public_update), which the workspace calls with
`form.service_kwargs()`. Each form carries `last_update`, the public update the
user saw when the page was drawn (0: none yet), so a form opened before someone
else published or posted an update is shown again as a conflict instead of
being applied blindly.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from escalation.status.models import Component, Impact, Publication, PublicStatus
from escalation.status.services import TITLE_MAX
from incidents.models import LONG_TEXT, Incident


class ComponentsField(forms.ModelMultipleChoiceField):
    widget = forms.CheckboxSelectMultiple

    def label_from_instance(self, obj):
        return obj.name


class StatusPageForm(forms.Form):
    """A status page form of one incident; `last_update` is the public update seen."""

    last_update = forms.IntegerField(widget=forms.HiddenInput, min_value=0)

    def __init__(self, *args, incident: Incident, last_update: int = 0, **kwargs):
        self.incident = incident
        kwargs.setdefault("auto_id", f"id_{type(self).__name__.removesuffix('Form').lower()}_%s")
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial["last_update"] = last_update
        # Every component: the public may be affected beyond the incident's team.
        self.fields["components"].queryset = Component.objects.all()


class PublishForm(StatusPageForm):
    """Publish the incident as `investigating`, in words written for the public."""

    components = ComponentsField(
        label=_("Affected components"),
        queryset=Component.objects.none(),
        help_text=_("The parts of the product users see affected."),
    )
    impact = forms.ChoiceField(label=_("Impact"), choices=Impact.choices, widget=forms.RadioSelect)
    public_title = forms.CharField(
        label=_("Public title"),
        max_length=TITLE_MAX,
        help_text=_("What the public reads, not the internal title. E.g. “Checkout is slow”."),
    )
    message = forms.CharField(
        label=_("Message to the public"),
        max_length=LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("No internal names, numbers or causes: subscribers get this by mail."),
    )

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("last_update")
        return data

    def preview_kwargs(self, publication=None) -> dict:
        """What escalation.status.selectors.incident_preview needs, from the valid
        fields (an invalid one shows empty)."""
        data = getattr(self, "cleaned_data", {})
        return {
            "public_title": data.get("public_title", ""),
            "impact": data.get("impact") or Impact.DEGRADED,
            "status": PublicStatus.INVESTIGATING,
            "message": data.get("message", ""),
            "components": list(data.get("components") or []),
            "publication": None,
        }


class PublicUpdateForm(StatusPageForm):
    """Post a public update; impact, components and title left empty stay as they are."""

    status = forms.ChoiceField(
        label=_("Public status"), choices=PublicStatus.choices, widget=forms.RadioSelect
    )
    message = PublishForm.base_fields["message"]
    impact = forms.ChoiceField(
        label=_("Impact"),
        choices=[("", _("Unchanged")), *Impact.choices],
        required=False,
    )
    components = ComponentsField(
        label=_("Affected components"),
        queryset=Component.objects.none(),
        required=False,
        help_text=_("None ticked: unchanged."),
    )
    public_title = forms.CharField(
        label=_("Public title"),
        max_length=TITLE_MAX,
        required=False,
        help_text=_("Empty: unchanged."),
    )

    def __init__(self, *args, publication: Publication, **kwargs):
        self.publication = publication
        super().__init__(*args, **kwargs)

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "status": data["status"],
            "message": data["message"],
            "impact": data.get("impact") or None,
            "components": list(data["components"]) or None,
            "public_title": data.get("public_title") or None,
        }

    def preview_kwargs(self, components=None) -> dict:
        """incident_preview's arguments: the update as given over the publication
        as it is (`components`: its current ones, when none are ticked)."""
        data = getattr(self, "cleaned_data", {})
        publication = self.publication
        return {
            "public_title": data.get("public_title") or publication.public_title,
            "impact": data.get("impact") or publication.impact,
            "status": data.get("status") or publication.status,
            "message": data.get("message", ""),
            "components": list(data.get("components") or []) or list(components or []),
            "publication": publication,
        }
