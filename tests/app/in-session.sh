#!/usr/bin/env bash
# Runs one desktop test inside the X display and D-Bus session that test-app.sh made for
# it. Usage: in-session.sh e2e|tray|tray-picture APP CLI WORK SHOTS
set -euo pipefail
mode=$1 app=$2 cli=$3 work=$4 shots=$5
here="$(cd "$(dirname "$0")" && pwd)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

case "$mode" in
  e2e)
    # Stand-ins for Google Drive (browser sign-in) and Baidu (device code); the app,
    # started by the driver, inherits where they are and the app keys through the
    # environment.
    emulator="$(dirname "$cli")/cloudsync-emulator"
    "$emulator" gdrive --addr 127.0.0.1:0 >"$work/gdrive.url" 2>"$work/gdrive.log" &
    gdrive_pid=$!
    "$emulator" baidu --addr 127.0.0.1:0 >"$work/baidu.url" 2>"$work/baidu.log" &
    baidu_pid=$!
    "$emulator" dropbox --addr 127.0.0.1:0 >"$work/dropbox.url" 2>"$work/dropbox.log" &
    dropbox_pid=$!
    trap 'kill $gdrive_pid $baidu_pid $dropbox_pid 2>/dev/null || true' EXIT
    for _ in $(seq 1 100); do
      [ -s "$work/gdrive.url" ] && [ -s "$work/baidu.url" ] && [ -s "$work/dropbox.url" ] && break
      sleep 0.1
    done
    base=$(head -n1 "$work/gdrive.url")
    baidu_base=$(head -n1 "$work/baidu.url")
    # Baidu: codes polled every second, and no listall quota (it has its own tests; here
    # it would only slow the syncs down).
    curl -fsS -X POST -H 'Content-Type: application/json' \
      -d '{"device_interval": 1, "listall_per_minute": 0}' "$baidu_base/__emulator/baidu/settings" >/dev/null
    export CLOUDSYNC_GDRIVE_APP_KEY=e2e-app CLOUDSYNC_GDRIVE_API_BASE="$base" CLOUDSYNC_NO_BROWSER=1
    # Dropbox's redirect port is the one "registered" for the app: a free one here.
    export CLOUDSYNC_DROPBOX_APP_KEY=e2e-dropbox CLOUDSYNC_DROPBOX_API_BASE="$(head -n1 "$work/dropbox.url")" \
      CLOUDSYNC_DROPBOX_REDIRECT_PORT="$(free_port)"
    export CLOUDSYNC_BAIDU_APP_KEY=e2e-baidu CLOUDSYNC_BAIDU_APP_SECRET=e2e-secret \
      CLOUDSYNC_BAIDU_APP_NAME=CloudSync CLOUDSYNC_BAIDU_API_BASE="$baidu_base"
    export CLOUDSYNC_SECRETS=file
    port=$(free_port)
    native=$(free_port)
    tauri-driver --port "$port" --native-port "$native" >"$work/tauri-driver.log" 2>&1 &
    driver=$!
    trap 'kill $driver $gdrive_pid $baidu_pid $dropbox_pid 2>/dev/null || true; pkill -f "^$app( |$)" 2>/dev/null || true' EXIT
    WEBDRIVER_URL="http://127.0.0.1:$port" python3 "$here/e2e.py" "$app" "$work/e2e" "$shots"
    ;;
  tray)
    mkdir -p "$work/tray/Files" "$work/tray/files-remote" "$work/tray/Notes" "$work/tray/notes-remote"
    config="$work/tray/config"
    "$cli" --config-dir "$config" connection add local --name Files \
      --local "$work/tray/Files" --remote "$work/tray/files-remote" >/dev/null
    "$cli" --config-dir "$config" connection add local --name Notes \
      --local "$work/tray/Notes" --remote "$work/tray/notes-remote" >/dev/null
    # A daemon serves the config dir first: the app must become its client, and take
    # the engine over when the daemon stops.
    "$cli" --config-dir "$config" run >"$work/tray/daemon.log" 2>&1 &
    daemon=$!
    trap 'kill $daemon 2>/dev/null || true' EXIT
    # PyGObject comes from Debian's python3-gi, which a pyenv python cannot import.
    /usr/bin/python3 "$here/tray.py" "$app" "$cli" "$config" "$work/tray/Files" "$daemon" \
      "$work/tray/files-remote"
    ;;
  tray-picture)
    # The tray menu as a panel draws it: with no StatusNotifier watcher on the bus the
    # app's indicator falls back to an XEmbed icon, which trayer (a small panel) shows;
    # a click opens the real GTK menu.
    dir="$work/picture"
    mkdir -p "$dir/Documents" "$dir/docs-remote" "$dir/Photos" "$dir/photos-remote"
    "$cli" --config-dir "$dir/config" connection add local --name Documents \
      --local "$dir/Documents" --remote "$dir/docs-remote" >/dev/null
    "$cli" --config-dir "$dir/config" connection add local --name Photos \
      --local "$dir/Photos" --remote "$dir/photos-remote" >/dev/null
    echo "quarterly figures" > "$dir/Documents/report.txt"
    trayer --edge top --align right --widthtype request --height 32 --SetDockType true \
      --transparent false --tint 0xdddddd >/dev/null 2>&1 &
    panel=$!
    "$app" --config-dir "$dir/config" --minimized >"$dir/app.log" 2>&1 &
    app_pid=$!
    trap 'kill $panel $app_pid 2>/dev/null || true' EXIT
    width=$(xdpyinfo 2>/dev/null | awk '/dimensions:/ {split($2, d, "x"); print d[1]}' || true)
    width=${width:-1280}
    # Wait for the upload of report.txt to reach the menu's recent files.
    for _ in $(seq 1 60); do
      "$cli" --config-dir "$dir/config" log --json 2>/dev/null | grep -q report.txt && break
      sleep 0.5
    done
    sleep 2
    xdotool mousemove $((width - 16)) 16 click 1
    sleep 1.5
    import -window root "$dir/screen.png"
    convert "$dir/screen.png" -crop 520x300+$((width - 520))+0 +repage "$shots/tray-menu.png"
    # The menu is a light box where the bare root window is black.
    light=$(convert "$shots/tray-menu.png" -colorspace Gray -format '%[fx:mean]' info:)
    if ! awk -v l="$light" 'BEGIN { exit !(l > 0.3) }'; then
      echo "tray-picture: FAILED: no menu in the picture (mean brightness $light)" >&2
      exit 1
    fi
    echo "tray-picture: menu drawn (mean brightness $light)"
    ;;
  *) echo "usage: in-session.sh e2e|tray|tray-picture APP CLI WORK SHOTS" >&2; exit 2 ;;
esac
