#!/usr/bin/env bash
# The README's demo: builds its environment, starts chaosiq-server on SQLite on a free
# loopback port, signs in without prompts, runs the sample experiments with publishing
# and safeguards, prints where to see them, and stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh
chaosiq_sync 3.11 .venv
exec .venv/bin/python scripts/demo.py "$@"
