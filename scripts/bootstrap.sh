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
chaosiq_python() {  # chaosiq_python 3.12 -> path of an interpreter of that version
    local py="$1" root candidate
    # pyenv installs are preferred: its shims only answer for the global version.
    root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
    for candidate in "$root"/versions/"$py".*/bin/python"$py" "$root"/versions/"$py"/bin/python"$py"; do
        [ -x "$candidate" ] && { echo "$candidate"; return 0; }
    done
    candidate="$(UV_PYTHON_DOWNLOADS=never uv python find "$py" 2>/dev/null)" && { echo "$candidate"; return 0; }
    return 1
}
chaosiq_sync() {  # chaosiq_sync PYTHON VENV
    local py="$1" venv="$2" interpreter
    if ! interpreter="$(chaosiq_python "$py")"; then
        echo "error: Python $py was not found on this machine (pyenv versions: $(ls "$(pyenv root 2>/dev/null || echo ~/.pyenv)"/versions 2>/dev/null | tr '\n' ' '))" >&2
        return 1
    fi
    echo "==> syncing $venv (Python $py: $interpreter)"
    UV_PROJECT_ENVIRONMENT="$venv" uv sync --all-packages --all-extras --locked --python "$interpreter" --quiet
}
