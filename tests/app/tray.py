"""The tray checked over D-Bus, as a desktop panel sees it: this script stands in for
the panel's StatusNotifierWatcher, starts the real app, and reads its menu through
com.canonical.dbusmenu: the items hold live values (status line, recently changed
files, one "Open sync folder" per connection), and clicking "Pause all" pauses every
connection (checked with the `cloudsync` CLI, which talks to the app's engine).

The app starts while a `cloudsync run` daemon (DAEMON_PID) serves the config dir, so it
runs as that daemon's client; once the menu is checked the daemon is stopped and the app
must take the engine over (its control socket answers again, the paused state holds).

It also stands in for the desktop's notification server (a conflict must show one), and
checks that a second launch only hands over to the running app and exits.

Usage: /usr/bin/python3 tray.py APP_BINARY CLI_BINARY CONFIG_DIR LOCAL_DIR DAEMON_PID REMOTE_DIR
(run inside its own D-Bus session and X display; the config dir already holds two
connections, "Files" with LOCAL_DIR as its sync folder, and "Notes").
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import gi

gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib  # noqa: E402

APP, CLI, CONFIG, LOCAL = sys.argv[1:5]
DAEMON = int(sys.argv[5])
REMOTE = sys.argv[6]

NOTIFICATIONS_XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
  </interface>
</node>
"""

notifications = []


def on_notification_call(conn, sender, path, iface, method, params, invocation):
    """A desktop's notification server, as far as the app uses it: it records what it shows."""
    if method == "Notify":
        app, _, _, summary, body = params.unpack()[:5]
        notifications.append((summary, body))
        invocation.return_value(GLib.Variant("(u)", (len(notifications),)))
    elif method == "GetCapabilities":
        invocation.return_value(GLib.Variant("(as)", (["body"],)))
    elif method == "GetServerInformation":
        invocation.return_value(GLib.Variant("(ssss)", ("test", "cloudsync", "1", "1.2")))
    else:
        invocation.return_value(None)

WATCHER_XML = """
<node>
  <interface name="org.kde.StatusNotifierWatcher">
    <method name="RegisterStatusNotifierItem"><arg type="s" direction="in"/></method>
    <method name="RegisterStatusNotifierHost"><arg type="s" direction="in"/></method>
    <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
    <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
    <property name="ProtocolVersion" type="i" access="read"/>
    <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
    <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
    <signal name="StatusNotifierHostRegistered"/>
  </interface>
</node>
"""

items = []


def on_call(conn, sender, path, iface, method, params, invocation):
    if method == "RegisterStatusNotifierItem":
        (arg,) = params.unpack()
        # An item registers by object path (the sender is its bus name) or by bus name.
        if arg.startswith("/"):
            items.append((sender, arg))
        else:
            items.append((arg, "/StatusNotifierItem"))
    invocation.return_value(None)


def on_get(conn, sender, path, iface, prop):
    if prop == "RegisteredStatusNotifierItems":
        return GLib.Variant("as", [f"{s}{p}" for s, p in items])
    if prop == "IsStatusNotifierHostRegistered":
        return GLib.Variant("b", True)
    return GLib.Variant("i", 0)


def pump(seconds):
    ctx = GLib.MainContext.default()
    end = time.time() + seconds
    while time.time() < end:
        while ctx.pending():
            ctx.iteration(False)
        time.sleep(0.02)


def wait_for(predicate, timeout, what):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        pump(0.2)
    raise AssertionError(f"{what}: not within {timeout} s")


def flatten(node, out):
    ident, props, children = node
    label = props.get("label", "")
    if props.get("type") != "separator" and label:
        out.append({"id": ident, "label": label.replace("_", ""),
                    "enabled": props.get("enabled", True)})
    for child in children:
        flatten(child, out)
    return out


def main():
    bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    node = Gio.DBusNodeInfo.new_for_xml(WATCHER_XML)
    bus.register_object("/StatusNotifierWatcher", node.interfaces[0], on_call, on_get, None)
    Gio.bus_own_name_on_connection(bus, "org.kde.StatusNotifierWatcher",
                                   Gio.BusNameOwnerFlags.NONE, None, None)
    notes = Gio.DBusNodeInfo.new_for_xml(NOTIFICATIONS_XML)
    bus.register_object("/org/freedesktop/Notifications", notes.interfaces[0],
                        on_notification_call, None, None)
    Gio.bus_own_name_on_connection(bus, "org.freedesktop.Notifications",
                                   Gio.BusNameOwnerFlags.NONE, None, None)
    pump(0.5)

    app = subprocess.Popen([APP, "--config-dir", CONFIG, "--minimized"])
    try:
        check(bus)
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()


def menu_of(bus, service, path):
    menu_path = bus.call_sync(service, path, "org.freedesktop.DBus.Properties", "Get",
                              GLib.Variant("(ss)", ("org.kde.StatusNotifierItem", "Menu")),
                              GLib.VariantType("(v)"), Gio.DBusCallFlags.NONE, 5000, None).unpack()[0]
    return menu_path


def layout(bus, service, menu_path):
    reply = bus.call_sync(service, menu_path, "com.canonical.dbusmenu", "GetLayout",
                          GLib.Variant("(iias)", (0, -1, [])), None, Gio.DBusCallFlags.NONE,
                          5000, None).unpack()
    return flatten(reply[1], [])


def cli_status():
    out = subprocess.run([CLI, "--config-dir", CONFIG, "status", "--json"], check=True,
                         capture_output=True, text=True, timeout=30).stdout
    return json.loads(out)


def check(bus):
    service, path = wait_for(lambda: items[:1] and items[0], 60, "the app's tray item")
    print(f"tray: item {service}{path}", flush=True)
    menu_path = wait_for(lambda: menu_of(bus, service, path), 20, "the item's menu")

    def labels():
        return {i["label"]: i for i in layout(bus, service, menu_path)}

    want = ["Pause all", "Resume all", "Open sync folder: Files", "Open sync folder: Notes",
            "Open CloudSync", "Quit"]
    menu = wait_for(lambda: (lambda m: m if all(w in m for w in want) and "Up to date" in m else None)(labels()),
                    60, f"a menu with {want} and 'Up to date'")
    assert menu["Pause all"]["enabled"] and not menu["Resume all"]["enabled"], menu
    print("tray: menu " + " | ".join(menu), flush=True)

    # A live value: a file dropped into the sync folder shows under "Recently changed".
    with open(os.path.join(LOCAL, "fresh-report.txt"), "w") as f:
        f.write("new\n")
    wait_for(lambda: "fresh-report.txt  (Files)" in labels(), 60, "the new file in the menu")

    pause = labels()["Pause all"]["id"]
    bus.call_sync(service, menu_path, "com.canonical.dbusmenu", "Event",
                  GLib.Variant("(isvu)", (pause, "clicked", GLib.Variant("s", ""), int(time.time()))),
                  None, Gio.DBusCallFlags.NONE, 5000, None)
    wait_for(lambda: all(c["state"] == "paused" for c in cli_status()), 20,
             "every connection paused after clicking Pause all")
    after = wait_for(lambda: (lambda m: m if "Paused" in m else None)(labels()), 20,
                     "the status line to say Paused")
    assert after["Resume all"]["enabled"] and not after["Pause all"]["enabled"], after

    # The daemon goes away: the app hosts the engine from then on.
    os.kill(DAEMON, signal.SIGTERM)
    wait_for(lambda: not os.path.exists(f"/proc/{DAEMON}") or
             open(f"/proc/{DAEMON}/stat").read().split()[2] == "Z", 20, "the daemon to stop")
    wait_for(socket_answers, 30, "the app to serve the control socket after the daemon stopped")
    assert all(c["state"] == "paused" for c in cli_status()), cli_status()
    resume = labels()["Resume all"]["id"]
    bus.call_sync(service, menu_path, "com.canonical.dbusmenu", "Event",
                  GLib.Variant("(isvu)", (resume, "clicked", GLib.Variant("s", ""), int(time.time()))),
                  None, Gio.DBusCallFlags.NONE, 5000, None)
    wait_for(lambda: all(c["state"] != "paused" for c in cli_status()), 20,
             "every connection resumed through the app's own engine")

    # A conflict is worth a desktop notification.
    with open(os.path.join(LOCAL, "plan.txt"), "w") as f:
        f.write("the local plan\n")
    with open(os.path.join(REMOTE, "plan.txt"), "w") as f:
        f.write("the remote plan\n")
    note = wait_for(lambda: [n for n in notifications if "Conflict" in n[0]], 60,
                    "a desktop notification of the conflict")
    assert "plan.txt" in note[0][1], note
    print(f"tray: notification {note[0]}", flush=True)

    # A second launch on the same desktop session only brings the first one forward.
    second = subprocess.run([APP, "--config-dir", CONFIG, "--minimized"], timeout=30,
                            capture_output=True)
    assert second.returncode == 0, second
    assert socket_answers(), "the first instance still serves the engine"
    print("tray: passed", flush=True)


def socket_answers():
    """Whether something accepts connections on the config dir's control socket."""
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(os.path.join(CONFIG, "control.sock"))
        return True
    except OSError:
        return False
    finally:
        s.close()


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, GLib.Error) as e:
        print(f"tray: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
