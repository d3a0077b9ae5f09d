#!/usr/bin/env bash
# Create .venv (if needed) and install Shadowmap into it with the given extras, e.g. "agent,server".
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-agent,server}
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "Shadowmap needs Python 3.11 or newer ($python is $("$python" -V 2>&1))" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
    if ! "$python" -m venv .venv 2>/dev/null; then
        # Debian ships venv separately.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            rm -rf .venv && "$python" -m venv .venv
        else
            echo "cannot create a virtualenv: install python3-venv" >&2; exit 1
        fi
    fi
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q ".[$extras]"
