"""Production settings: `make check-deploy` passes; secrets come only from the
environment or *_FILE; DEBUG off refuses the embedded demo key."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_it_refuses_a_weak_key_when_debug_is_off():
    for weak in ("short-but-not-the-demo-key", "ab" * 40, "django-insecure-" + "Zq9xV2pL7rT4" * 5):
        result = manage("check", DEBUG="false", SECRET_KEY=weak, ALLOWED_HOSTS="example.com")
        assert result.returncode != 0, weak
        assert "SECRET_KEY is too weak for DEBUG off" in result.stderr, weak
    # The same key is fine while DEBUG is on (the embedded demo).
    assert manage("check", DEBUG="true", SECRET_KEY="short").returncode == 0


def hsts(**env):
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SECURE_HSTS_SECONDS, "
        "s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, s.SILENCED_SYSTEM_CHECKS)",
        DEBUG="false",
        HTTPS="true",
        SECRET_KEY=STRONG,
        ALLOWED_HOSTS="responder.example.com",
        **env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_hsts_preload_and_subdomains_are_opt_in():
    assert hsts() == "31536000 False False ['security.W005', 'security.W021']"
    assert hsts(HSTS_INCLUDE_SUBDOMAINS="true") == "31536000 True False ['security.W021']"
    assert hsts(HSTS_INCLUDE_SUBDOMAINS="true", HSTS_PRELOAD="true") == "31536000 True True []"


@pytest.mark.django_db
def test_the_hsts_header_has_no_preload_unless_asked(client, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False
    settings.SECURE_HSTS_PRELOAD = False
    settings.SECURE_SSL_REDIRECT = False

    response = client.get("/healthz", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000"
