#!/bin/bash
# Build the macOS installer package on a Mac, from the kit `shadowmap package --type pkg` wrote
# (pkgbuild comes with the Xcode command line tools; no open tool on Linux writes a .pkg's Bom).
#   tar xzf shadowmap-agent-VERSION-macos-pkg-kit.tar.gz && cd shadowmap-agent-VERSION-macos-pkg-kit
#   ./build-pkg.sh                    -> shadowmap-agent-VERSION.pkg
# The agent is frozen with PyInstaller from the dependencies pinned with hashes in lock/, so
# the endpoints need no Python. The collector URL, CA and enrollment token are already in
# root/ (baked by `shadowmap package`). Sign for distribution with
# `productsign --sign "Developer ID Installer: ..."` and notarise.
set -euo pipefail
KIT=$(cd "$(dirname "$0")" && pwd)
PYTHON=${PYTHON:-python3}
command -v pkgbuild >/dev/null || { echo "pkgbuild not found: run this on macOS" >&2; exit 2; }
VERSION=$(cat "$KIT/VERSION")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --require-hashes --only-binary=:all: \
    -r "$KIT/lock/agent.txt" -r "$KIT/lock/build.txt"
printf 'import sys\n\nfrom agent.cli import main\n\nsys.exit(main())\n' >"$WORK/main.py"
PYTHONPATH="$KIT/source" "$WORK/venv/bin/pyinstaller" --noconfirm --log-level=WARN --onedir \
    --name shadowmap-agent --paths "$KIT/source" --collect-submodules agent \
    --collect-data signatures --exclude-module collector --exclude-module server \
    --distpath "$WORK/dist" --workpath "$WORK/build" --specpath "$WORK" "$WORK/main.py"
PREFIX="$KIT/root/Library/Application Support/Shadowmap/agent"
rm -rf "$PREFIX" && mkdir -p "$PREFIX/bin"
cp -R "$WORK/dist/shadowmap-agent" "$PREFIX/lib"
ln -s ../lib/shadowmap-agent "$PREFIX/bin/shadowmap-agent"
chmod 0600 "$KIT/root/Library/Application Support/Shadowmap/enroll-token"
pkgbuild --root "$KIT/root" --scripts "$KIT/scripts" --identifier dev.shadowmap.agent \
    --version "$VERSION" --install-location / --ownership recommended \
    "$KIT/shadowmap-agent-$VERSION.pkg"
echo "$KIT/shadowmap-agent-$VERSION.pkg"
