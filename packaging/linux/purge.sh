#!/bin/sh
# Purge (deb postrm "purge", rpm %postun on erase): remove every trace the package made at run
# time: state (identity, credential, spool), the config directory and the service user.
set -e
rm -rf /var/lib/shadowmap-agent /opt/shadowmap-agent
rm -f /etc/shadowmap-agent/enroll-token /etc/shadowmap-agent/agent.env \
    /etc/shadowmap-agent/agent.toml /etc/shadowmap-agent/ca.pem
rmdir /etc/shadowmap-agent 2>/dev/null || true
if getent passwd shadowmap-agent >/dev/null; then
    userdel shadowmap-agent >/dev/null 2>&1 || true
fi
if getent group shadowmap-agent >/dev/null; then
    groupdel shadowmap-agent >/dev/null 2>&1 || true
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
