from django.core.management.base import BaseCommand
from django.utils.translation import ngettext

from escalation import unread


class Command(BaseCommand):
    help = (
        "Recount every user's unread in-app notices (the number in the page header) "
        "from the deliveries; run with the workers stopped. See escalation/unread.py."
    )

    def handle(self, *args, **opts):
        users = unread.rebuild()
        self.stdout.write(
            ngettext(
                "Unread notices recounted: %(count)d user has some.",
                "Unread notices recounted: %(count)d users have some.",
                users,
            )
            % {"count": users}
        )
