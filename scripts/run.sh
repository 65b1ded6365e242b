#!/usr/bin/env bash
# Builds CloudSync and runs the daemon on a sample connection: a local sync folder
# (~/CloudSync/Demo) paired with a plain folder standing in for the remote
# (~/CloudSync/.demo-remote), so it works with no network and no account.
# Usage: scripts/run.sh          (Ctrl-C stops the daemon; run it again to resume)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-deps.sh

cargo build --release --locked -p cloudsync-cli
bin="$PWD/target/release/cloudsync"

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
