#!/bin/sh
# Before removal (deb prerm "remove", rpm %preun on erase): stop and disable the service.
set -e
if [ -d /run/systemd/system ]; then
    systemctl disable --now shadowmap-agent.service >/dev/null 2>&1 || true
fi
exit 0
