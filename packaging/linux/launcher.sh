#!/bin/sh
# /opt/shadowmap-agent/bin/shadowmap-agent: start the agent the package installed, or the
# signed update it installed since (<state>/updates/current, see agent/updates.py), and roll
# an update back when it failed to start MAX_STARTS times without confirming itself.
BASE=${SHADOWMAP_AGENT_BASE:-/opt/shadowmap-agent/lib/shadowmap-agent}
UPDATES=${SHADOWMAP_AGENT_UPDATES_DIR:-/var/lib/shadowmap-agent/updates}
MAX_STARTS=3

if [ -x "$UPDATES/current/shadowmap-agent" ]; then
    case " $* " in
    *" run "*)
        if [ -f "$UPDATES/pending" ]; then
            starts=$(cat "$UPDATES/starts" 2>/dev/null || echo 0)
            starts=$((starts + 1))
            if [ "$starts" -gt "$MAX_STARTS" ]; then
                version=$(cut -d ' ' -f 1 "$UPDATES/pending")
                previous=$(cat "$UPDATES/previous" 2>/dev/null || true)
                if [ -n "$previous" ] && [ -x "$UPDATES/versions/$previous/shadowmap-agent" ]; then
                    ln -sfn "versions/$previous" "$UPDATES/current.new"
                    mv -Tf "$UPDATES/current.new" "$UPDATES/current"
                else
                    rm -f "$UPDATES/current"
                fi
                echo "$version did not start after $MAX_STARTS attempts" >"$UPDATES/rolled-back"
                rm -f "$UPDATES/pending" "$UPDATES/starts"
                echo "shadowmap-agent: update $version did not start $MAX_STARTS times; rolled back" >&2
                exec "$0" "$@"
            fi
            echo "$starts" >"$UPDATES/starts"
        fi
        ;;
    esac
    exec "$UPDATES/current/shadowmap-agent" "$@"
fi
exec "$BASE" "$@"
