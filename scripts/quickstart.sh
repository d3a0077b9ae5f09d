#!/usr/bin/env bash
# Install Shadowmap into .venv, start the server on its embedded SQLite database, create the
# first admin (password printed once), scan this machine with a real agent, and leave the
# server running at the printed URL.
#   --detach   return once everything is up (stop later with: scripts/quickstart.sh --stop)
#   --stop     stop a detached server
# Environment: SHADOWMAP_PORT (default 8000), SHADOWMAP_DATA_DIR (default ./var).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${SHADOWMAP_PORT:-8000}
export SHADOWMAP_DATA_DIR=${SHADOWMAP_DATA_DIR:-$PWD/var}
pidfile=$SHADOWMAP_DATA_DIR/server.pid

if [ "${1:-}" = "--stop" ]; then
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null && rm -f "$pidfile" && echo "stopped"
    exit 0
fi
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "a Shadowmap server from this folder is already running (pid $(cat "$pidfile")); stop it with: $0 --stop" >&2
    exit 1
fi
if python3 -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $port)) != 0)"; then
    echo "port $port is in use; choose another with SHADOWMAP_PORT=8001 $0" >&2
    exit 1
fi

echo "==> installing Shadowmap into .venv"
scripts/venv.sh agent,server
mkdir -p "$SHADOWMAP_DATA_DIR"
echo "==> preparing the database in $SHADOWMAP_DATA_DIR"
.venv/bin/shadowmap db upgrade 2>/dev/null
admin=$(.venv/bin/shadowmap user create --username admin --role admin --if-no-users)

echo "==> starting the server on http://127.0.0.1:$port"
nohup .venv/bin/shadowmap serve --port "$port" > "$SHADOWMAP_DATA_DIR/server.log" 2>&1 &
echo $! > "$pidfile"
url="http://127.0.0.1:$port"
.venv/bin/python - "$url" <<'PY'
import sys, time, httpx
for _ in range(150):
    try:
        if httpx.get(sys.argv[1] + "/healthz", timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.TransportError:
        time.sleep(0.2)
sys.exit("the server did not start; see var/server.log")
PY

echo "==> enrolling an agent and scanning this machine"
token=$(.venv/bin/shadowmap enroll-token create --name quickstart --uses 1 --expires 1h --quiet)
.venv/bin/shadowmap-agent enroll --server "$url" --token "$token" --state-dir "$SHADOWMAP_DATA_DIR/agent"
scan=$(.venv/bin/shadowmap-agent scan --once --server "$url" --state-dir "$SHADOWMAP_DATA_DIR/agent")
echo "$scan"
case "$scan" in
    *": 0 finding(s)"*)
        echo "No AI in use was found on this machine; it is listed, with its last report, at $url/hosts."
        echo "Run the agent on a workstation (or install an AI CLI or SDK here and scan again) to fill the inventory." ;;
esac

echo
echo "Shadowmap is running at $url"
case "$admin" in
    *password:*) echo "Sign in as admin with the $(echo "$admin" | grep -o 'password: .*')" ;;
    *) echo "Sign in with the admin password printed when this folder was first set up." ;;
esac
echo "Scan again with: .venv/bin/shadowmap-agent scan --once --server $url --state-dir $SHADOWMAP_DATA_DIR/agent"
if [ "${1:-}" = "--detach" ]; then
    echo "Stop it with: $0 --stop"
    exit 0
fi
echo "Press Ctrl-C to stop."
trap 'kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"; exit 0' INT TERM
wait
