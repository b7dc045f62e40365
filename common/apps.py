from django.apps import AppConfig, apps


class CommonConfig(AppConfig):
    name = "common"

    def ready(self):
        from common.choices import APPS, cache_choice_labels

        cache_choice_labels(m for a in APPS for m in apps.get_app_config(a).get_models())
