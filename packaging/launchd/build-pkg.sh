#!/usr/bin/env bash
# Build the macOS installer package (run on a Mac: pkgbuild ships with the Xcode tools).
#   packaging/launchd/build-pkg.sh [OUTPUT_DIR]   -> OUTPUT_DIR/shadowmap-agent-VERSION.pkg
# Layout installed:
#   /Library/Application Support/Shadowmap/agent/    virtualenv + bin/shadowmap-agent
#   /Library/LaunchDaemons/dev.shadowmap.agent.plist the launchd job (runs as root)
# A .pkg takes no arguments: preseed /Library/Application Support/Shadowmap/agent.toml
# (server_url, enrollment_token_file) and the enroll-token file with your MDM before install
# (Jamf: a policy "Files and Processes" step; see docs/deploy.md). The postinstall script
# loads the job; `run` enrolls with the token file on its first cycle.
# Sign for distribution with `productsign --sign "Developer ID Installer: ..."` and notarise.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/dist}" && cd "${1:-$REPO/dist}" && pwd)
PYTHON=${PYTHON:-python3}
command -v pkgbuild >/dev/null || { echo "pkgbuild not found: build the .pkg on macOS" >&2; exit 2; }
VERSION=$("$PYTHON" -c 'import re,sys; print(re.search(r"__version__ = \"([^\"]+)\"", open(sys.argv[1]).read()).group(1))' "$REPO/agent/__init__.py")

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
PREFIX="/Library/Application Support/Shadowmap/agent"
ROOT=$STAGE/root
"$PYTHON" -m venv "$ROOT$PREFIX/venv"
deps=$("$PYTHON" - "$REPO/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["agent"]))
PY
)
mapfile -t requirements <<<"$deps"
"$ROOT$PREFIX/venv/bin/python" -m pip install --quiet "${requirements[@]}"
site=$("$ROOT$PREFIX/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp -r "$REPO/agent" "$REPO/signatures" "$site/"
mkdir -p "$ROOT$PREFIX/bin" "$ROOT/Library/LaunchDaemons" "$STAGE/scripts"
printf '#!/bin/sh\nexec "%s/venv/bin/python" -I -m agent "$@"\n' "$PREFIX" >"$ROOT$PREFIX/bin/shadowmap-agent"
chmod 0755 "$ROOT$PREFIX/bin/shadowmap-agent"
install -m 0644 "$HERE/dev.shadowmap.agent.plist" "$ROOT/Library/LaunchDaemons/"
cat >"$STAGE/scripts/postinstall" <<'SH'
#!/bin/sh
mkdir -p "/Library/Application Support/Shadowmap/state" /Library/Logs/Shadowmap
chmod 0700 "/Library/Application Support/Shadowmap/state"
launchctl bootout system/dev.shadowmap.agent 2>/dev/null || true
launchctl bootstrap system /Library/LaunchDaemons/dev.shadowmap.agent.plist
exit 0
SH
chmod 0755 "$STAGE/scripts/postinstall"
pkgbuild --root "$ROOT" --scripts "$STAGE/scripts" --identifier dev.shadowmap.agent \
    --version "$VERSION" --install-location / "$OUT/shadowmap-agent-$VERSION.pkg"
echo "$OUT/shadowmap-agent-$VERSION.pkg"
