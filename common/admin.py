"""Admin: every user's API token, listed without its key, revoked in bulk."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from rest_framework.authtoken.models import TokenProxy

from common import tokens
from common.models import ApiTokenHolder

# DRF's own token admin uses the key as the row id, printing every secret.
admin.site.unregister(TokenProxy)


@admin.register(ApiTokenHolder)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("username", "full_name", "hint", "created")
    search_fields = ("username", "first_name", "last_name")
    list_filter = ("auth_token__created",)
    ordering = ("-auth_token__created",)
    actions = ("revoke",)

    def get_queryset(self, request):
        holders = super().get_queryset(request).filter(auth_token__isnull=False)
        return holders.select_related("auth_token")

    @admin.display(description=_("name"))
    def full_name(self, holder):
        return holder.get_full_name()

    @admin.display(description=_("token"))
    def hint(self, holder):
        return tokens.key_hint(holder.auth_token.key)

    @admin.display(description=_("created"), ordering="auth_token__created")
    def created(self, holder):
        return holder.auth_token.created

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # these rows are users: never delete them here
        return actions

    def has_add_permission(self, request):
        return False  # a user makes their own on the settings page (or drf_create_token)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("authtoken.view_token")

    def has_module_permission(self, request):
        return request.user.has_perm("authtoken.view_token")

    def has_revoke_permission(self, request):
        return request.user.has_perm("authtoken.delete_token")

    @admin.action(description=_("Revoke their API tokens"), permissions=["revoke"])
    def revoke(self, request, queryset):
        revoked = sum(tokens.api_token_revoke(user=user, actor=request.user) for user in queryset)
        self.message_user(
            request,
            ngettext("%(n)d API token revoked.", "%(n)d API tokens revoked.", revoked)
            % {"n": revoked},
            messages.SUCCESS,
        )
