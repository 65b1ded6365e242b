#!/usr/bin/env bash
# Runs one desktop test inside the X display and D-Bus session that test-app.sh made for
# it. Usage: in-session.sh e2e|tray APP CLI WORK SHOTS
set -euo pipefail
mode=$1 app=$2 cli=$3 work=$4 shots=$5
here="$(cd "$(dirname "$0")" && pwd)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$mode" in
  e2e)
    port=$(free_port)
    native=$(free_port)
    tauri-driver --port "$port" --native-port "$native" >"$work/tauri-driver.log" 2>&1 &
    driver=$!
    trap 'kill $driver 2>/dev/null || true; pkill -f "$app" 2>/dev/null || true' EXIT
    WEBDRIVER_URL="http://127.0.0.1:$port" python3 "$here/e2e.py" "$app" "$work/e2e" "$shots"
    ;;
  tray)
    mkdir -p "$work/tray/Files" "$work/tray/files-remote" "$work/tray/Notes" "$work/tray/notes-remote"
    config="$work/tray/config"
    "$cli" --config-dir "$config" connection add local --name Files \
      --local "$work/tray/Files" --remote "$work/tray/files-remote" >/dev/null
    "$cli" --config-dir "$config" connection add local --name Notes \
      --local "$work/tray/Notes" --remote "$work/tray/notes-remote" >/dev/null
    # PyGObject comes from Debian's python3-gi, which a pyenv python cannot import.
    /usr/bin/python3 "$here/tray.py" "$app" "$cli" "$config" "$work/tray/Files"
    ;;
  *) echo "usage: in-session.sh e2e|tray APP CLI WORK SHOTS" >&2; exit 2 ;;
esac
