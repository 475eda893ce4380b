# Sourced by the other scripts: make sure uv is there and the dev environment is in sync.
# Usage: source scripts/bootstrap.sh [python-version] [venv-path]
set -euo pipefail
export UV_PYTHON_DOWNLOADS=never
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
    echo "==> installing uv (pip install --user uv)"
    python3 -m pip install --quiet --user 'uv>=0.5' \
        || python3 -m pip install --quiet --break-system-packages --user 'uv>=0.5'
fi
chaosiq_sync() {  # chaosiq_sync PYTHON VENV
    local py="$1" venv="$2"
    if ! uv python find "$py" >/dev/null 2>&1; then
        echo "error: Python $py was not found on this machine (pyenv versions: $(ls ~/.pyenv/versions 2>/dev/null | tr '\n' ' '))" >&2
        return 1
    fi
    echo "==> syncing $venv (Python $py)"
    UV_PROJECT_ENVIRONMENT="$venv" uv sync --all-packages --all-extras --locked --python "$py" --quiet
}
