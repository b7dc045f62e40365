"""The admin site: administrators only (incidents.rules.uses_admin).

The admin lists every team's records without the visibility rules of the pages,
so `is_staff` alone opens nothing. A signed-in user who is not an administrator
gets 403 on every admin URL (sign-in included) instead of Django's redirect to
the admin's sign-in form; an anonymous visitor is still sent there, where
django-axes guards the password check as on /accounts/login/.
"""

from functools import update_wrapper

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from incidents import rules


class AdministratorSignInForm(AdminAuthenticationForm):
    """The admin's sign-in form, admitting the users `has_permission` admits
    (Django's own checks `is_staff`)."""

    def confirm_login_allowed(self, user):
        AuthenticationForm.confirm_login_allowed(self, user)  # inactive users
        if not rules.uses_admin(user):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class ResponderAdminSite(admin.AdminSite):
    login_form = AdministratorSignInForm
    refusal_template = "errors/admin_forbidden.html"

    def has_permission(self, request):
        return rules.uses_admin(request.user)

    def admin_view(self, view, cacheable=False):
        admitted = super().admin_view(view, cacheable)

        def inner(request, *args, **kwargs):
            if request.user.is_authenticated and not self.has_permission(request):
                return self.refuse(request)
            return admitted(request, *args, **kwargs)

        return update_wrapper(inner, admitted)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated and not self.has_permission(request):
            return self.refuse(request)
        return super().login(request, extra_context)

    def refuse(self, request):
        """403, a page saying who the admin is for and where to work instead (not
        Django's redirect to the admin's sign-in form, which would offer itself again)."""
        response = TemplateResponse(request, self.refusal_template, status=403)
        add_never_cache_headers(response)
        return response
