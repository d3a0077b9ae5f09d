#!/usr/bin/env bash
# Install the Debian packages Shadowmap's tests use (as root; skipped for packages present).
#   chromium        the real browser for UI tests (driven by Playwright's Python package)
#   libpcap0.8      live capture (the agent's ctypes binding compiles its BPF filter)
#   tshark          the reference DNS parser the network tests agree with
#   dnsmasq-base    a real DNS server for the network-namespace test
#   iproute2        ip netns / veth for the live capture test
#   poppler-utils   pdftoppm, to render report PDFs to PNG in tests
#   fonts-dejavu-core, fonts-droid-fallback  the PDF report's fonts (Latin..., and CJK names)
#   postgresql      only when no PostgreSQL server answers on 127.0.0.1:5432
#   rpm             rpmbuild for `shadowmap package --type rpm`, and rpm to install it (tests/packaging)
#   rsyslog, rsyslog-openssl  a real syslog receiver over TLS for the SIEM tests (tests/server/siem)
#   unbound, squid  the resolver and proxy the enforcement exports are tested against
#                   (tests/server/enforcement: an RPZ zone, a dstdomain ACL)
#   wixl, msitools  wixl and msibuild for `shadowmap package --type msi`; msiinfo and msiextract
#                   to read the MSI back (tests/packaging/test_msi.py)
#   wine, wine64    Wine runs the MSI's Windows build of the agent (tests/packaging/test_msi.py)
#   gcc-mingw-w64-x86-64-win32  builds that test's stand-in bcryptprimitives.dll, which Debian
#                   12's Wine 8 lacks (tests/packaging/bcryptprimitives.c says why)
#   osslsigncode    checks the PSF's Authenticode signatures of the Windows runtime that
#                   scripts/windows-runtime.sh fetches
#   (node and npm, for the single sign-on tests' OpenID provider, come with the machine)
set -euo pipefail
packages=(chromium libpcap0.8 tshark dnsmasq-base iproute2 poppler-utils fonts-dejavu-core fonts-droid-fallback python3-venv rpm rsyslog rsyslog-openssl unbound squid
    wixl msitools wine wine64 gcc-mingw-w64-x86-64-win32 osslsigncode)
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "system-deps: not root or no apt-get; install these yourself: ${packages[*]}" >&2
    exit 0
fi
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "system-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
