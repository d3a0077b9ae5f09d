#!/bin/sh
# After install (deb postinst "configure", rpm %post): create the service user, tighten the
# secrets, enroll with the baked token file, start the service when systemd runs.
#
# `shadowmap package` baked /etc/shadowmap-agent/agent.toml (server_url, ca_file, tags) and the
# enrollment token /etc/shadowmap-agent/enroll-token (0600) into this package. Enrollment reads
# the token from that file: it never appears on a command line (ps). Enrollment failing here is
# not fatal: `run` enrolls from the same file when it starts.
set -e

CONF=/etc/shadowmap-agent
STATE=/var/lib/shadowmap-agent
AGENT=/opt/shadowmap-agent/bin/shadowmap-agent

if ! getent passwd shadowmap-agent >/dev/null; then
    # useradd (shadow) is on every Debian (passwd is required) and RPM system alike.
    useradd --system --user-group --no-create-home --home-dir "$STATE" \
        --shell /usr/sbin/nologin --comment "Shadowmap agent" shadowmap-agent
fi
install -d -m 0700 -o shadowmap-agent -g shadowmap-agent "$STATE"
# A package install or upgrade is authoritative: self-updates installed before it go.
rm -rf "$STATE/updates"
# Secrets: readable by the service user only, never by everyone.
for secret in "$CONF/enroll-token" "$CONF/agent.env"; do
    if [ -f "$secret" ]; then
        chown shadowmap-agent:shadowmap-agent "$secret"
        chmod 0600 "$secret"
    fi
done

if [ -s "$CONF/enroll-token" ] && [ ! -f "$STATE/credential.json" ] \
    && grep -q '^server_url' "$CONF/agent.toml"; then
    if setpriv --reuid=shadowmap-agent --regid=shadowmap-agent --init-groups \
        env HOME="$STATE" "$AGENT" --config "$CONF/agent.toml" enroll \
        --token-file "$CONF/enroll-token" --state-dir "$STATE"; then
        :
    else
        echo "shadowmap-agent: enrollment failed now; the service retries with the token file" >&2
    fi
fi

if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null || true
    systemctl enable shadowmap-agent.service >/dev/null 2>&1 || true
    systemctl restart shadowmap-agent.service || true
else
    echo "shadowmap-agent: systemd is not running; start the agent with your init system:" \
        "$AGENT --config $CONF/agent.toml run (as the shadowmap-agent user)" >&2
fi
exit 0
