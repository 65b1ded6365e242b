#!/usr/bin/env bash
# Installs what building and testing CloudSync needs on Debian, skipping what is present.
# Idempotent; safe to run on every CI start.
set -euo pipefail

need_pkgs=()
# rclone: its `serve webdav` is a real WebDAV server for the WebDAV backend's tests.
# dbus-daemon, gnome-keyring, libsecret-tools: a real OS keyring (Secret Service) for the
# keyring test, on a private session bus.
# The desktop app (Tauri 2 on WebKitGTK): its libraries; Xvfb, xauth and dbus-x11 to run
# it headless; webkit2gtk-driver (WebKitWebDriver) for its end-to-end tests; imagemagick
# for screenshots; python3-gi for the tray test's D-Bus stand-in; chromium for the UI
# tests with the IPC mocked; trayer (a small XEmbed tray) and xdotool to open the real tray
# menu for its screenshot.
for pkg in build-essential pkg-config curl file ca-certificates rclone dbus-daemon \
  gnome-keyring libsecret-tools libwebkit2gtk-4.1-dev libgtk-3-dev libxdo-dev libssl-dev \
  libayatana-appindicator3-dev librsvg2-dev xvfb xauth dbus-x11 at-spi2-core imagemagick \
  webkit2gtk-driver python3-gi chromium trayer xdotool; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    need_pkgs+=("$pkg")
  fi
done
if ((${#need_pkgs[@]})); then
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  echo "ensure-deps: installing ${need_pkgs[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${need_pkgs[@]}"
fi

# moto: its `moto_server` is an in-memory S3 server for the S3 backend's tests.
if ! python3 -c 'import moto.server' >/dev/null 2>&1; then
  echo "ensure-deps: installing moto[server] from PyPI"
  python3 -m pip install --quiet 'moto[server]'
fi

# WsgiDAV on cheroot: a second, independent WebDAV server (Basic or Digest auth) for the
# WebDAV backend's tests.
if ! python3 -c 'import wsgidav, cheroot' >/dev/null 2>&1; then
  echo "ensure-deps: installing wsgidav and cheroot from PyPI"
  python3 -m pip install --quiet wsgidav cheroot
fi

# s3rver: a filesystem-backed S3 server (npm), the S3 backend's second test server. The
# version is pinned by tests/servers/s3rver/package-lock.json.
s3rver_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/servers/s3rver"
if [ ! -x "$s3rver_dir/node_modules/.bin/s3rver" ]; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    echo "ensure-deps: installing nodejs and npm"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
      --no-install-recommends nodejs npm
  fi
  echo "ensure-deps: installing s3rver (npm ci in tests/servers/s3rver)"
  (cd "$s3rver_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

if ! command -v cargo >/dev/null 2>&1; then
  for c in "$HOME/.cargo/bin/cargo" /usr/local/cargo/bin/cargo; do
    if [ -x "$c" ]; then export PATH="$(dirname "$c"):$PATH"; fi
  done
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "ensure-deps: no Rust toolchain found; install one with rustup (https://rustup.rs), Rust >= 1.85" >&2
  exit 1
fi

# tauri-driver: the WebDriver proxy the desktop app's end-to-end test goes through (it
# starts WebKitWebDriver, from webkit2gtk-driver above). Pinned below 3 (alphas).
if ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "ensure-deps: installing tauri-driver 2 (cargo install)"
  cargo install tauri-driver --version '^2' --locked --quiet
fi
export PATH="$HOME/.cargo/bin:$PATH"

# The desktop app's front end (ui/): Vite, Preact, Vitest, playwright-core, as pinned by
# ui/package-lock.json; installed again when the lock file changes.
ui_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/ui"
if [ -f "$ui_dir/package-lock.json" ] && { [ ! -f "$ui_dir/node_modules/.package-lock.json" ] ||
  [ "$ui_dir/package-lock.json" -nt "$ui_dir/node_modules/.package-lock.json" ]; }; then
  echo "ensure-deps: installing the front end's packages (npm ci in ui)"
  (cd "$ui_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
