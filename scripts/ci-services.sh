#!/usr/bin/env bash
# Install and start what the test suite needs on a fresh Debian machine (run as root by .ci/run):
# PostgreSQL (storage tests on both databases) and Chromium (console browser tests).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
echo "==> chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
if [ -x scripts/ci-postgres.sh ] || [ -f scripts/ci-postgres.sh ]; then
    bash scripts/ci-postgres.sh
fi
