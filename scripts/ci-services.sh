#!/usr/bin/env bash
# Install and start what the test suite needs on a fresh Debian machine (run as root by .ci/run):
# PostgreSQL (storage tests on both databases), Chromium (console browser tests) and
# haproxy (tests of several servers behind a load balancer).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium haproxy >/dev/null
echo "==> chromium: $(/usr/bin/chromium --version 2>/dev/null || echo missing)"
# Tests run their own haproxy process with their own configuration (the Debian
# package's default configuration has no frontend, so its service listens nowhere).
echo "==> haproxy: $(haproxy -v 2>/dev/null | head -n 1 || echo missing)"
if [ -x scripts/ci-postgres.sh ] || [ -f scripts/ci-postgres.sh ]; then
    bash scripts/ci-postgres.sh
fi
