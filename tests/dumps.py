"""Running the backup commands from tests: a dump's text out, a dump's text in."""

import io

from django.core.management import call_command


def export(**options) -> str:
    out = io.StringIO()
    call_command("export_incidents", stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def import_text(text: str, tmp_path, *options) -> str:
    path = tmp_path / "dump.json"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    call_command("import_incidents", str(path), *options, stdout=out)
    return out.getvalue()
