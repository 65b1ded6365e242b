#!/usr/bin/env bash
# The desktop app's tests that need a display, each in its own Xvfb display and D-Bus
# session, bounded in time:
# - tests/app/e2e.py: the real app driven through tauri-driver + WebKitWebDriver (the
#   wizard makes a Demo-cloud connection, files arrive, pause/resume, a conflict is
#   resolved, unlink keeps the files; a non-empty folder is refused; Drive, Dropbox and
#   Baidu sign in from the wizard against the emulators; a revoked Dropbox sign-in is
#   mended with "Sign in again", another account refused);
# - tests/app/tray.py: the tray menu read and clicked over D-Bus (StatusNotifierItem +
#   dbusmenu);
# - the tray menu drawn by a small panel (trayer) and opened with a click, for its picture.
# Expects the app and CLI built (target/debug). Screenshots go to target/app-test/shots;
# UPDATE_SCREENSHOTS=1 also copies them to docs/screenshots.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-$PWD/target}"
app="$target/debug/cloudsync-app"
cli="$target/debug/cloudsync"
shots="$target/app-test/shots"
work="$(mktemp -d /tmp/cloudsync-app-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$shots"
export NO_AT_BRIDGE=1
export PATH="$HOME/.cargo/bin:$PATH"

run_in_session() {
  timeout --kill-after=10 "$1" xvfb-run -a -s '-screen 0 1280x800x24' \
    dbus-run-session -- bash tests/app/in-session.sh "$2" "$app" "$cli" "$work" "$shots"
}

echo "-- tray over D-Bus"
run_in_session 180 tray 2> >(grep -v -e 'Failed to set fd limit' -e 'org.a11y' -e 'SpiRegistry' -e 'Activating service' -e 'Successfully activated' >&2)
echo "-- the tray menu as a panel draws it (screenshot)"
run_in_session 120 tray-picture 2> >(grep -v -e 'Failed to set fd limit' -e 'org.a11y' -e 'SpiRegistry' -e 'Activating service' -e 'Successfully activated' >&2)
echo "-- the app end to end through WebDriver"
run_in_session 420 e2e 2> >(grep -v -e 'Failed to set fd limit' -e 'org.a11y' -e 'SpiRegistry' -e 'Activating service' -e 'Successfully activated' >&2)

if [ "${UPDATE_SCREENSHOTS:-}" = 1 ]; then
  mkdir -p docs/screenshots
  cp "$shots"/*.png docs/screenshots/
  echo "screenshots copied to docs/screenshots"
fi
