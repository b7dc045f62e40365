"""Production settings: `make check-deploy` passes; secrets come only from the
environment or *_FILE; DEBUG off refuses the embedded demo key."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRONG = "k" * 20 + "Zq9!xV2@pL7#rT4$wN8%yB1^cM6&dF3*hJ5(gS0)" + "e" * 10


def manage(*args, **env):
    # Only what each test sets: not the suite's own DEBUG, secrets, or the
    # DJANGO_ALLOW_ASYNC_UNSAFE the browser tests set for this process.
    dropped = ("DEBUG", "SECRET_KEY", "HTTPS", "DJANGO_ALLOW_ASYNC_UNSAFE")
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    clean["DJANGO_SETTINGS_MODULE"] = "config.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_passes_the_deployment_checks_with_https_on():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        HTTPS="true",
        SECRET_KEY=STRONG,
        ALLOWED_HOSTS="responder.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_warns_when_https_is_off():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=STRONG,
        ALLOWED_HOSTS="responder.example.com",
    )
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS" in result.stderr + result.stdout


def test_it_refuses_the_demo_key_when_debug_is_off():
    result = manage("check", DEBUG="false", ALLOWED_HOSTS="responder.example.com")
    assert result.returncode != 0
    assert "Set SECRET_KEY (or SECRET_KEY_FILE) when DEBUG is off." in result.stderr


def test_it_reads_the_secret_key_from_a_file(tmp_path):
    key = tmp_path / "secret_key"
    key.write_text(STRONG + "\n")
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECRET_KEY)",
        DEBUG="false",
        SECRET_KEY_FILE=str(key),
        ALLOWED_HOSTS="responder.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == STRONG
