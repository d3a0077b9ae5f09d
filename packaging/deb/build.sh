#!/usr/bin/env bash
# Build the agent's Debian package: a self-contained virtualenv under /opt/shadowmap-agent,
# a hardened systemd unit, a conffile and maintainer scripts.
#   packaging/deb/build.sh [OUTPUT_DIR]      -> OUTPUT_DIR/shadowmap-agent_VERSION_ARCH.deb
# Needs: python3 with venv (the target's interpreter: the venv links to /usr/bin/python3),
# dpkg-deb, and PyPI (or a pip mirror / PIP_FIND_LINKS) for the agent's dependencies.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$(mkdir -p "${1:-$REPO/dist}" && cd "${1:-$REPO/dist}" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}
VERSION=$("$PYTHON" -c 'import re,sys; print(re.search(r"__version__ = \"([^\"]+)\"", open(sys.argv[1]).read()).group(1))' "$REPO/agent/__init__.py")
ARCH=$(dpkg --print-architecture)
PYVER=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
NEXT_PYVER=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1] + 1}")')

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
ROOT=$STAGE/root
PREFIX=/opt/shadowmap-agent
VENV=$ROOT$PREFIX/venv

# 1. The virtualenv, built where it will live relative to its own bin/python. Only the
#    interpreter symlink points outside (/usr/bin/python3), as Depends: python3 guarantees.
"$PYTHON" -m venv "$VENV"
deps=$("$PYTHON" - "$REPO/pyproject.toml" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(project["dependencies"] + project["optional-dependencies"]["agent"]))
PY
)
mapfile -t requirements <<<"$deps"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    "${requirements[@]}"
site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# The agent carries only its own code and the shared vocabulary (the dependency rule).
for package in agent signatures; do
    cp -r "$REPO/$package" "$site/$package"
done
find "$site/agent" "$site/signatures" -name '__pycache__' -type d -prune -exec rm -rf {} +
"$VENV/bin/python" -m pip uninstall --quiet --yes pip setuptools >/dev/null 2>&1 || true
rm -f "$VENV"/bin/pip* "$VENV"/bin/activate*
# Compile now: the byte-code is then part of the package's file list, and removed with it.
"$VENV/bin/python" -m compileall -q -j 0 "$VENV/lib" >/dev/null
# Scripts pip generated carry the staging path in their #! line; the agent needs none of them.
find "$VENV/bin" -type f ! -name 'python*' -delete

install -d "$ROOT$PREFIX/bin" "$ROOT$PREFIX/docs"
cat >"$ROOT$PREFIX/bin/shadowmap-agent" <<'SH'
#!/bin/sh
# The Shadowmap agent, from its own virtualenv.
exec /opt/shadowmap-agent/venv/bin/python -I -m agent "$@"
SH
chmod 0755 "$ROOT$PREFIX/bin/shadowmap-agent"
for doc in agent-settings.md deploy.md; do
    [ -f "$REPO/docs/$doc" ] && install -m 0644 "$REPO/docs/$doc" "$ROOT$PREFIX/docs/$doc"
done
install -D -m 0644 "$HERE/../systemd/shadowmap-agent.service" \
    "$ROOT/lib/systemd/system/shadowmap-agent.service"
install -D -m 0644 "$HERE/agent.toml" "$ROOT/etc/shadowmap-agent/agent.toml"

# 2. Control files.
install -d "$ROOT/DEBIAN"
install -m 0644 "$HERE/DEBIAN/conffiles" "$ROOT/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$HERE/DEBIAN/$script" "$ROOT/DEBIAN/$script"
done
size=$(du -sk --exclude=DEBIAN "$ROOT" | cut -f1)
cat >"$ROOT/DEBIAN/control" <<CONTROL
Package: shadowmap-agent
Version: $VERSION
Architecture: $ARCH
Maintainer: Shadowmap <maintainers@shadowmap.dev>
Depends: python3 (>= $PYVER), python3 (<< $NEXT_PYVER), adduser, util-linux
Recommends: libpcap0.8
Installed-Size: $size
Section: admin
Priority: optional
Homepage: https://shadowmap.dev
Description: Shadowmap endpoint agent
 Finds the AI services used on this machine (processes, browser and IDE
 extensions, packages, network names) and reports them to a Shadowmap
 collector for ISO/IEC 42001 governance. Self-contained: its Python
 dependencies live in /opt/shadowmap-agent/venv.
CONTROL

deb="$OUT/shadowmap-agent_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group --build "$ROOT" "$deb" >/dev/null
echo "$deb"
