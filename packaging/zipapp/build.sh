#!/usr/bin/env bash
# Build the agent as one file for any machine with Python 3.11 (a shiv zipapp).
#   packaging/zipapp/build.sh [OUTPUT_DIR]   -> OUTPUT_DIR/shadowmap-agent.pyz
# Run it with the interpreter family you target: the dependencies with C code (psutil,
# cryptography) are the build machine's wheels, so build once per OS/architecture/Python minor.
# PYTHON (default python3) must have shiv installed (`pip install shiv`, in the dev extra).
# At first start the zipapp unpacks itself into ~/.shiv (or $SHIV_ROOT).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/dist}" && cd "${1:-$REPO/dist}" && pwd)
PYTHON=${PYTHON:-python3}

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
deps=$("$PYTHON" - "$REPO/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["agent"]))
PY
)
mapfile -t requirements <<<"$deps"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --target "$STAGE/site" \
    "${requirements[@]}"
for package in agent signatures; do
    cp -r "$REPO/$package" "$STAGE/site/$package"
done
find "$STAGE/site" -name '__pycache__' -type d -prune -exec rm -rf {} +
rm -rf "$STAGE/site/bin"
"$PYTHON" -m shiv --site-packages "$STAGE/site" --entry-point agent.cli:main \
    --python "/usr/bin/env python3" --compressed --reproducible \
    --output-file "$OUT/shadowmap-agent.pyz" >/dev/null
echo "$OUT/shadowmap-agent.pyz"
