"""End-to-end test of the real CloudSync app under Xvfb, driven through tauri-driver:
the wizard creates a Demo-cloud connection into an empty folder (a non-empty folder is
refused with its reason), files arrive in the folder and in Activity, pause and resume,
a conflict is seen and resolved, and the connection is unlinked with its files kept.
Then Google Drive, Dropbox and Baidu sign-ins from the wizard against the emulators, and a
revoked Dropbox sign-in mended from the main window's "Sign in again".

Usage: WEBDRIVER_URL=http://127.0.0.1:PORT e2e.py APP_BINARY WORK_DIR SHOTS_DIR
"""

import html
import json
import os
import re
import sys
import time
import urllib.parse
import urllib.request

from webdriver import Session, WebDriverError

APP, WORK, SHOTS = (os.path.abspath(a) for a in sys.argv[1:4])
CONFIG = os.path.join(WORK, "config")
SYNC = os.path.join(WORK, "Demo sync")
NOT_EMPTY = os.path.join(WORK, "full")
TOKEN = "cloudsync-demo-token"


def step(msg):
    print(f"e2e: {msg}", flush=True)


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout} s")


def demo_base():
    with open(os.path.join(CONFIG, "demo-cloud", "port")) as f:
        return f"http://127.0.0.1:{f.read().strip()}"


def dropbox(endpoint, arg=None, body=None, content=False):
    """Calls the Demo cloud (the Dropbox emulator) the way Dropbox's API is called."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content:
        headers["Dropbox-API-Arg"] = json.dumps(arg)
        headers["Content-Type"] = "application/octet-stream"
        data = body or b""
    else:
        headers["Content-Type"] = "application/json"
        data = json.dumps(arg).encode()
    req = urllib.request.Request(demo_base() + endpoint, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read(), resp.headers


def remote_files():
    raw, _ = dropbox("/2/files/list_folder", {"path": "/CloudSync", "recursive": True})
    listing = json.loads(raw)
    names = {e["path_display"][len("/CloudSync/"):] for e in listing["entries"] if e[".tag"] == "file"}
    while listing.get("has_more"):
        raw, _ = dropbox("/2/files/list_folder/continue", {"cursor": listing["cursor"]})
        listing = json.loads(raw)
        names |= {e["path_display"][len("/CloudSync/"):] for e in listing["entries"] if e[".tag"] == "file"}
    return names


def remote_text(path):
    raw, _ = dropbox("/2/files/download", {"path": f"/CloudSync/{path}"}, content=True)
    return raw.decode()


def main():
    os.makedirs(SYNC)
    os.makedirs(NOT_EMPTY)
    with open(os.path.join(NOT_EMPTY, "keep.txt"), "w") as f:
        f.write("already here\n")
    os.makedirs(SHOTS, exist_ok=True)

    s = Session(os.environ.get("WEBDRIVER_URL", "http://127.0.0.1:4444"), {
        "tauri:options": {"application": APP, "args": ["--config-dir", CONFIG]}})
    try:
        run(s)
    finally:
        s.quit()


def switch_to_new_window(s, known):
    handle = wait_for(lambda: [h for h in s.handles() if h not in known], 20, "the wizard window")[0]
    # WebKitWebDriver can drop the connection when asked to switch to a webview that is
    # still loading: give the new window a moment.
    time.sleep(1.5)
    s.switch(handle)
    return handle


def finish_wizard(s, main_window):
    """Finish on the summary, wait for Done, close the wizard, back to the main window."""
    s.click_id("wizard-finish")
    s.find("wizard-done", timeout=30)
    close = s.find("wizard-close")
    try:
        s.click(close)
    except WebDriverError:
        # The window can be gone before the driver answers the click that closed it.
        pass
    wait_for(lambda: len(s.handles()) == 1, 10, "the wizard to close")
    s.switch(main_window)


def folder_defaults_finish(s, main_window, folder):
    """The wizard's folder step with `folder`, default options, the summary, Finish."""
    s.set_value("local-folder-input", folder)
    wait_for(lambda: not s.find_all("local-folder-error"), 10, "the folder check")
    s.click_id("wizard-next")
    s.click_id("wizard-next")
    s.find("summary")
    finish_wizard(s, main_window)


def run(s):
    main_window = s.handles()[0]
    s.find("empty-state")
    s.screenshot(os.path.join(SHOTS, "main-empty.png"))

    step("the wizard: Demo cloud")
    s.click_id("add-connection")
    switch_to_new_window(s, [main_window])
    s.click_id("provider-demo")
    s.screenshot(os.path.join(SHOTS, "wizard-provider.png"))
    s.click_id("wizard-next")
    # Sign-in step: the Demo cloud needs none.
    s.click_id("wizard-next")

    step("a non-empty folder is refused with its reason")
    s.set_value("conn-name", "Demo")
    s.set_value("local-folder-input", NOT_EMPTY)
    s.wait_text("local-folder-error", lambda t: "not empty" in t, what="the refusal")
    assert not s.enabled(s.find("wizard-next")), "Next must stay disabled for a non-empty folder"
    s.screenshot(os.path.join(SHOTS, "wizard-folder-refused.png"))

    step("an empty folder is accepted; the remote folder is browsed")
    s.set_value("local-folder-input", SYNC)
    wait_for(lambda: not s.find_all("local-folder-error"), 10, "the refusal to go away")
    s.find("remote-folder-list")
    s.click_id("remote-folder-CloudSync")
    s.click_id("use-remote-folder")
    s.screenshot(os.path.join(SHOTS, "wizard-folders.png"))
    s.click_id("wizard-next")
    s.find("opt-mode")
    # Keep both: the remote version keeps the name, the local one becomes a conflicted
    # copy, so either can be chosen afterwards from the Conflicts tab.
    s.select_option("opt-conflict", "keep-both")
    s.screenshot(os.path.join(SHOTS, "wizard-options.png"))
    s.click_id("wizard-next")
    summary = s.text(s.find("summary"))
    assert "Demo" in summary and SYNC in summary, summary
    s.screenshot(os.path.join(SHOTS, "wizard-summary.png"))
    finish_wizard(s, main_window)

    step("files arrive in the folder and in Activity")
    s.click_id("conn-item-Demo")
    welcome = os.path.join(SYNC, "Welcome to CloudSync.txt")
    wait_for(lambda: os.path.exists(welcome), 60, "the sample files to arrive")
    wait_for(lambda: os.path.exists(os.path.join(SYNC, "Documents", "Ideas.txt")), 30, "Ideas.txt")
    s.click_id("tab-activity")
    s.wait_text("activity-row", lambda t: "Welcome to CloudSync.txt" in t, timeout=30,
                what="the download in Activity")
    s.screenshot(os.path.join(SHOTS, "main-activity.png"))

    step("a local file is uploaded")
    with open(os.path.join(SYNC, "from-this-pc.txt"), "w") as f:
        f.write("written on this computer\n")
    wait_for(lambda: "from-this-pc.txt" in remote_files(), 30, "the upload")

    step("pause: nothing moves; resume: it does")
    s.click_id("tab-overview")
    s.click_id("pause-button")
    s.wait_text("status-text", lambda t: "paused" in t.lower(), what="the paused state")
    with open(os.path.join(SYNC, "while-paused.txt"), "w") as f:
        f.write("written while paused\n")
    # Both sides change one file while paused: a conflict once resumed.
    with open(os.path.join(SYNC, "Documents", "Ideas.txt"), "w") as f:
        f.write("local ideas\n")
    dropbox("/2/files/upload", {"path": "/CloudSync/Documents/Ideas.txt", "mode": "overwrite"},
            b"remote ideas\n", content=True)
    time.sleep(3)
    assert "while-paused.txt" not in remote_files(), "a paused connection uploaded"
    s.screenshot(os.path.join(SHOTS, "main-paused.png"))
    s.click_id("resume-button")
    wait_for(lambda: "while-paused.txt" in remote_files(), 30, "the upload after resuming")

    step("the conflict is listed and resolved by keeping the local version")
    s.click_id("tab-conflicts")
    row = None
    deadline = time.time() + 30
    while row is None and time.time() < deadline:
        rows = [r for r in s.find_all("conflict-row") if "Ideas.txt" in s.text(r)]
        row = rows[0] if rows else None
        if row is None:
            time.sleep(0.5)
    assert row is not None, "no conflict row for Documents/Ideas.txt"
    s.screenshot(os.path.join(SHOTS, "main-conflicts.png"))
    ideas = os.path.join(SYNC, "Documents", "Ideas.txt")
    assert open(ideas).read() == "remote ideas\n", "keep-both gives the remote version the name"
    buttons = s.inside(row, "resolve-keep-local")
    assert buttons, "the conflict row has no Keep local button"
    s.click(buttons[0])
    wait_for(lambda: open(ideas).read() == "local ideas\n", 30, "the local version to take the name")
    wait_for(lambda: remote_text("Documents/Ideas.txt") == "local ideas\n", 30,
             "the local version to reach the Demo cloud")

    step("a mass delete waits for approval; Approve carries it out")
    bulk = os.path.join(SYNC, "bulk")
    os.makedirs(bulk)
    for i in range(12):
        with open(os.path.join(bulk, f"f{i:02}.txt"), "w") as f:
            f.write(f"file {i}\n")
    wait_for(lambda: sum(n.startswith("bulk/") for n in remote_files()) == 12, 60,
             "the 12 files to reach the Demo cloud")
    dropbox("/2/files/delete_v2", {"path": "/CloudSync/bulk"})
    s.click_id("tab-overview")
    s.wait_text("approval-panel", lambda t: "would be deleted on this computer" in t, timeout=60,
                what="the plan deleting 12 local files waiting for approval")
    s.wait_text("status-text", lambda t: "approval" in t.lower(), what="the approval state")
    assert len(os.listdir(bulk)) == 12, "files were deleted before the approval"
    s.screenshot(os.path.join(SHOTS, "main-approval.png"))
    s.click_id("approve-button")
    wait_for(lambda: not os.path.exists(bulk) or not os.listdir(bulk), 60,
             "the approved deletes (into the trash)")
    trash = os.path.join(SYNC, ".cloudsync-trash")
    assert any("f00.txt" in names for _, _, names in os.walk(trash)), "the deleted files are in the trash"
    wait_for(lambda: not s.find_all("approval-panel"), 30, "the approval panel to go away")

    step("unlink keeps the files on both sides")
    s.click_id("tab-overview")
    s.click_id("unlink-button")
    s.click_id("confirm-unlink")
    s.find("empty-state", timeout=20)
    assert os.path.exists(welcome), "unlink removed a local file"
    assert "Welcome to CloudSync.txt" in remote_files(), "unlink removed a remote file"

    browser_sign_in(s, main_window, "gdrive", "Google Drive", "alice")
    browser_sign_in(s, main_window, "dropbox", "Dropbox", "carol")
    relink_after_revoke(s, "Dropbox", "carol")
    baidu(s, main_window)
    step("passed")


def play_browser(url, account):
    """Does what the user does in the browser: opens the sign-in page, allows access as
    `account`; the page's form redirects to the app's loopback listener."""
    page = urllib.request.urlopen(url, timeout=10).read().decode()
    form = re.search(r"<form[^>]*action=\"([^\"]+)\"", page)
    assert form, "the sign-in page has a form"
    action = urllib.parse.urljoin(url, html.unescape(form.group(1)))
    fields = [(html.unescape(n), html.unescape(v)) for n, v in
              re.findall(r"<input[^>]*type=\"hidden\"[^>]*name=\"([^\"]*)\"[^>]*value=\"([^\"]*)\"", page)]
    fields += [("account", account), ("decision", "allow")]
    data = urllib.parse.urlencode(fields).encode()
    # urllib follows the redirect to the app's listener, which answers with its own page.
    with urllib.request.urlopen(urllib.request.Request(action, data=data), timeout=20) as back:
        assert back.status == 200, f"the app's listener answered {back.status}"


def browser_sign_in(s, main_window, provider, name, account):
    """Signing in to `provider` from the wizard through the browser flow (against the
    emulator the test script started; the app was told its address, an app key and, for
    Dropbox, its registered redirect port through the environment), then a local file
    goes up."""
    step(f"{name}: sign in through the browser from the wizard")
    folder = os.path.join(WORK, f"{name} sync")
    os.makedirs(folder)
    s.click_id("add-connection")
    switch_to_new_window(s, [main_window])
    s.click_id(f"provider-{provider}")
    s.click_id("wizard-next")
    s.click_id("sign-in-start")
    url = s.wait_text("sign-in-url", lambda t: t.startswith("http"), what="the sign-in page address").strip()
    play_browser(url, account)
    s.wait_text("sign-in-account", lambda t: "Signed in as" in t, timeout=30, what="the signed-in account")
    s.screenshot(os.path.join(SHOTS, f"wizard-signed-in-{provider}.png"))
    s.click_id("wizard-next")
    folder_defaults_finish(s, main_window, folder)

    step(f"{name}: a local file is uploaded")
    with open(os.path.join(folder, f"to-{provider}.txt"), "w") as f:
        f.write(f"for {name}\n")
    s.click_id(f"conn-item-{name}")
    s.click_id("tab-activity")
    s.wait_text("activity-row", lambda t: f"to-{provider}.txt" in t and "upload" in t, timeout=60,
                what=f"the upload to {name} in Activity")


def relink_after_revoke(s, name, account):
    """The account revokes the app at the provider: the connection asks to sign in again;
    signing in as another account is refused with nothing changed, the same account mends
    it, and the change made meanwhile goes up."""
    step(f"{name}: a revoked sign-in is mended with Sign in again")
    base = os.environ["CLOUDSYNC_DROPBOX_API_BASE"]
    req = urllib.request.Request(base + "/__emulator/revoke", data=json.dumps({"account": account}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 204, f"revoking: {r.status}"
    # A local change wakes the connection, whose sync then meets the refused sign-in.
    with open(os.path.join(WORK, f"{name} sync", "while-signed-out.txt"), "w") as f:
        f.write("made while the sign-in was revoked\n")
    s.wait_text("relink-panel", lambda t: "no longer accepts" in t, timeout=60, what="the Sign in again panel")
    s.screenshot(os.path.join(SHOTS, "main-relink-asked.png"))
    s.click_id("relink-start")
    url = s.wait_text("sign-in-url", lambda t: t.startswith("http"), what="the sign-in page address").strip()
    s.screenshot(os.path.join(SHOTS, "main-relink.png"))
    play_browser(url, "mallory")
    s.wait_text("relink-error", lambda t: "nothing was changed" in t, timeout=30,
                what="another account refused")
    s.click_id("relink-start")
    url = s.wait_text("sign-in-url", lambda t: t.startswith("http"), what="the second sign-in page address").strip()
    play_browser(url, account)
    wait_for(lambda: not s.find_all("relink-panel"), 30, "the Sign in again panel to go away")
    s.click_id("tab-activity")
    s.wait_text("activity-row", lambda t: "while-signed-out.txt" in t and "upload" in t, timeout=60,
                what="the file made while signed out, uploaded after the new sign-in")


def baidu(s, main_window):
    """Signing in to Baidu from the wizard with a device code: the wizard shows the code
    and the page; the test types it there as the user would on another device."""
    step("Baidu: sign in with a device code from the wizard")
    folder = os.path.join(WORK, "Baidu sync")
    os.makedirs(folder)
    s.click_id("add-connection")
    switch_to_new_window(s, [main_window])
    s.click_id("provider-baidu")
    s.click_id("wizard-next")
    s.click_id("sign-in-start")
    code = s.wait_text("device-code", lambda t: len(t.strip()) >= 4, what="the device code").strip()
    url = s.wait_text("device-url", lambda t: "http" in t, what="the device page").strip()
    url = url[url.index("http"):].split()[0]
    s.screenshot(os.path.join(SHOTS, "wizard-device-code.png"))
    urllib.request.urlopen(url, timeout=10).read()
    data = urllib.parse.urlencode([("user_code", code), ("account", "bob"), ("decision", "allow")])
    with urllib.request.urlopen(urllib.request.Request(url, data=data.encode()), timeout=10) as r:
        assert r.status == 200, f"approving the code: {r.status}"
    # Baidu names accounts by number (uk).
    s.wait_text("sign-in-account", lambda t: re.search(r"\d{5,}", t), timeout=30, what="the Baidu account")
    s.click_id("wizard-next")
    folder_defaults_finish(s, main_window, folder)

    step("Baidu: a local file is uploaded")
    with open(os.path.join(folder, "to-baidu.txt"), "w") as f:
        f.write("for the netdisk\n")
    s.click_id("conn-item-Baidu")
    s.click_id("tab-activity")
    s.wait_text("activity-row", lambda t: "to-baidu.txt" in t and "upload" in t, timeout=60,
                what="the upload to Baidu in Activity")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, WebDriverError) as e:
        print(f"e2e: FAILED: {e}", file=sys.stderr)
        sys.exit(1)
