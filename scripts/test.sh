#!/usr/bin/env bash
# Run every test from a fresh clone: lint, then the whole suite on
#   * Python 3.11 with chaostoolkit 1.19 / chaostoolkit-lib 1.44 (.venv), and
#   * Python 3.12 with the newest chaostoolkit / chaostoolkit-lib (.venv-py312).
# Extra arguments go to pytest (e.g. scripts/test.sh -k publish).
# CHAOSIQ_TEST_PYTHONS="3.11" limits the lines that run (the default runs both).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

pythons="${CHAOSIQ_TEST_PYTHONS:-3.11 3.12}"
status=0
for py in $pythons; do
    venv=".venv"
    [ "$py" = "3.11" ] || venv=".venv-py${py//./}"
    chaosiq_sync "$py" "$venv"
    if [ "$py" = "3.11" ]; then
        echo "==> ruff"
        "$venv/bin/ruff" check .
        "$venv/bin/ruff" format --check . >/dev/null || { echo "ruff format: files need formatting (run: uv run ruff format .)"; exit 1; }
    fi
    echo "==> pytest on Python $py ($("$venv/bin/python" -c 'import importlib.metadata as m; print("chaostoolkit", m.version("chaostoolkit"), "/ chaostoolkit-lib", m.version("chaostoolkit-lib"))'))"
    # pytest exits 5 when it collected no test: that is a failure here like any other non-zero.
    if ! "$venv/bin/python" -m pytest -p no:cacheprovider "$@"; then
        echo "==> pytest FAILED on Python $py" >&2
        status=1
    fi
done
exit $status
