""".ci/audit's verdict, read from pip-audit's own JSON report: a vulnerability
fails, an audit that could not look a dependency up says NOT RUN (never clean)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

VERDICT = Path(__file__).resolve().parent.parent / ".ci" / "audit_verdict.py"


def verdict(tmp_path, report: dict | None, status: int = 0, log: str = ""):
    report_file, log_file = tmp_path / "report.json", tmp_path / "log.txt"
    if report is not None:
        report_file.write_text(json.dumps(report))
    log_file.write_text(log)
    done = subprocess.run(
        [sys.executable, VERDICT, report_file, log_file, str(status)],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout


CLEAN = {"name": "django", "version": "5.2.19", "vulns": []}
SKIPPED = {
    "name": "celery",
    "skip_reason": "Dependency not found on PyPI and could not be audited: celery (5.5.3)",
}
VULNERABLE = {
    "name": "jinja2",
    "version": "3.1.2",
    "vulns": [{"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "description": "..."}],
}


def test_it_passes_when_every_dependency_was_looked_up_and_none_is_vulnerable(tmp_path):
    code, out = verdict(tmp_path, {"dependencies": [CLEAN, CLEAN], "fixes": []})
    assert code == 0
    assert "dependency audit passed: 2 dependencies" in out


def test_it_fails_on_a_known_vulnerability_even_when_others_were_skipped(tmp_path):
    code, out = verdict(tmp_path, {"dependencies": [CLEAN, SKIPPED, VULNERABLE]}, status=1)
    assert code == 1
    assert "VULNERABLE jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)" in out
    assert "FAILED" in out


@pytest.mark.parametrize("others", [[], [CLEAN]])
def test_it_says_not_run_with_pip_audits_reasons_when_it_could_not_look_up(tmp_path, others):
    code, out = verdict(tmp_path, {"dependencies": [*others, SKIPPED]})
    assert code == 0
    assert f"NOT RUN: pip-audit could not look up 1 of {len(others) + 1}" in out
    assert SKIPPED["skip_reason"] in out
    assert "passed" not in out


def test_it_says_not_run_when_pip_audit_left_no_report(tmp_path):
    code, out = verdict(tmp_path, None, status=1, log="Traceback ...\nConnectionError: refused")
    assert code == 0
    assert "NOT RUN: pip-audit ended (1) without a report: ConnectionError: refused" in out
