import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

# "files://", the embedded broker: kombu's filesystem transport, each message
# written whole before a worker can see it (config.broker).
TRANSPORT_ALIASES["files"] = "config.broker:Transport"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("responder")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
