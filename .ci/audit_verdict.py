"""The verdict of .ci/audit, from pip-audit's JSON report (see .ci/audit).

Usage: audit_verdict.py REPORT LOG STATUS. Exit 1 only for a known vulnerability.
"""

import json
import sys
from pathlib import Path

report, log, status = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
try:
    deps = json.loads(report.read_text())["dependencies"]
except (OSError, ValueError, KeyError):
    last = (log.read_text().strip().splitlines() or ["(no output)"])[-1]
    print(f"dependency audit NOT RUN: pip-audit ended ({status}) without a report: {last}")
    sys.exit(0)
vulnerable = [d for d in deps if d.get("vulns")]
skipped = [d for d in deps if d.get("skip_reason")]
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
        print(f"VULNERABLE {dep['name']} {dep.get('version', '')}: {vuln['id']} (fixed in {fixed})")
if vulnerable:
    print(f"dependency audit FAILED: {len(vulnerable)} of {len(deps)} dependencies vulnerable")
    sys.exit(1)
if skipped:
    print(
        f"dependency audit NOT RUN: pip-audit could not look up {len(skipped)} of "
        f"{len(deps)} pinned dependencies, so it audited too little to call them clean. "
        "pip-audit's reasons:"
    )
    for dep in skipped[:5]:
        print(f"  - {dep['skip_reason']}")
    if len(skipped) > 5:
        print(f"  - ... and {len(skipped) - 5} more")
    sys.exit(0)
print(f"dependency audit passed: {len(deps)} dependencies looked up, no known vulnerabilities")
