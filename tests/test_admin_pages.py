"""Every admin changelist opens for an administrator (smoke over all registered models)."""

import pytest
from django.contrib import admin as django_admin
from django.urls import reverse

from tests.factories import incident_in_state


@pytest.mark.django_db
def test_it_opens_every_admin_changelist(client, clock, admin, lead, owner, tester):
    admin.is_staff = admin.is_superuser = True
    admin.save()
    incident_in_state("resolved", lead=lead, owner=owner, tester=tester)
    client.force_login(admin)
    for model in admin_site_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


def admin_site_models():
    return list(django_admin.site._registry)
