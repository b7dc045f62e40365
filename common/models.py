from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _


class ApiTokenHolder(get_user_model()):
    """A user seen through their API token, for the admin's token list.

    The admin lists users, not tokens: a token's primary key is its secret key,
    and the admin would print it in every link and checkbox.
    """

    class Meta:
        proxy = True
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
