#!/usr/bin/env bash
# Builds CloudSync and starts the desktop app: it lives in the system tray, hosts the sync
# engine, and opens its main window; "Add connection" -> "Demo cloud" tries it with no
# account and no network. Without a display (a server), it runs the headless daemon on a
# sample connection instead: ~/CloudSync/Demo paired with the folder ~/CloudSync/.demo-remote.
# Usage: scripts/run.sh          (quit from the tray menu, or Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

(cd ui && npm run --silent build)
cargo build --release --locked -p cloudsync-cli -p cloudsync-app
target="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$target/release/cloudsync"

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "Starting CloudSync (tray app). Its data: ${CLOUDSYNC_HOME:-the XDG data dir}"
  exec "$target/release/cloudsync-app"
fi

echo "No display found: running the headless daemon instead of the tray app."
demo="${CLOUDSYNC_DEMO_DIR:-$HOME/CloudSync}"
local_dir="$demo/Demo"
remote_dir="$demo/.demo-remote"
config=(--config-dir "${CLOUDSYNC_HOME:-$demo/.config}")

if ! "$bin" "${config[@]}" connection list --json | grep -q '"name": "demo"'; then
  mkdir -p "$local_dir" "$remote_dir/Welcome"
  if [ ! -e "$remote_dir/Welcome/README.txt" ]; then
    cat > "$remote_dir/Welcome/README.txt" <<'TXT'
This file came from the demo "remote" folder. Edit it, or drop files into the Demo
folder: the running daemon copies them to the remote within a second.
TXT
  fi
  "$bin" "${config[@]}" connection add local --name demo --local "$local_dir" --remote "$remote_dir"
fi

echo "Sync folder: $local_dir   (remote stand-in: $remote_dir)"
echo "Try in another terminal: $bin ${config[*]} status --follow"
exec "$bin" "${config[@]}" run
