#!/usr/bin/env bash
# Run every test from a fresh clone: lint and type checks, then each distribution's suite on
#   * Python 3.11 with chaostoolkit 1.19 / chaostoolkit-lib 1.44 (.venv), and
#   * Python 3.12 with the newest chaostoolkit / chaostoolkit-lib (.venv-py312).
# Each suite runs in its own pytest process (each distribution owns its tests/).
# Extra arguments go to every pytest run (e.g. scripts/test.sh -k publish).
# CHAOSIQ_TEST_PYTHONS="3.11" limits the Python lines (default: both).
# CHAOSIQ_TEST_SUITES="tests server/tests" limits the suites (default: all).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

pythons="${CHAOSIQ_TEST_PYTHONS:-3.11 3.12}"
suites="${CHAOSIQ_TEST_SUITES:-tests plugins/teams/tests plugins/publisher/tests plugins/safeguards/tests plugins/verification/tests server/tests}"
reports="$(mktemp -d)"
trap 'rm -rf "$reports"' EXIT
status=0
for py in $pythons; do
    venv=".venv"
    [ "$py" = "3.11" ] || venv=".venv-py${py//./}"
    chaosiq_sync "$py" "$venv"
    if [ "$py" = "3.11" ]; then
        echo "==> ruff"
        "$venv/bin/ruff" check .
        "$venv/bin/ruff" format --check . >/dev/null \
            || { echo "ruff format: files need formatting (run: uv run ruff format .)" >&2; exit 1; }
        echo "==> mypy (the packages of [tool.mypy] files in pyproject.toml)"
        "$venv/bin/mypy"
    fi
    versions="$("$venv/bin/python" -c 'import importlib.metadata as m; print("chaostoolkit", m.version("chaostoolkit"), "/ chaostoolkit-lib", m.version("chaostoolkit-lib"))')"
    for suite in $suites; do
        echo "==> pytest $suite on Python $py ($versions)"
        report="$reports/$py-${suite//\//_}.xml"
        # pytest exits 5 when it collected no test: a failure here like any other non-zero.
        if ! "$venv/bin/python" -m pytest -p no:cacheprovider --junitxml="$report" "$suite" "$@"; then
            echo "==> FAILED: $suite on Python $py" >&2
            status=1
        fi
    done
done
# One closing line over every suite and Python line.
python3 - "$reports" <<'PY'
import pathlib, sys, xml.etree.ElementTree as ET
t = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
for f in pathlib.Path(sys.argv[1]).glob("*.xml"):
    for s in ET.parse(f).getroot().iter("testsuite"):
        for k in t:
            t[k] += int(s.get(k, 0))
failed = t["failures"] + t["errors"]
passed = t["tests"] - failed - t["skipped"]
print(f"total: {passed} passed, {failed} failed, {t['skipped']} skipped")
if t["tests"] == 0:
    print("error: no test ran", file=sys.stderr)
    sys.exit(1)
PY
exit $status
