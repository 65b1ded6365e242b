"""A small W3C WebDriver client (standard library only) for driving the real CloudSync app
through tauri-driver and WebKitWebDriver. Elements are found by their data-testid."""

import base64
import json
import os
import sys
import time
import urllib.error
import urllib.request


class WebDriverError(Exception):
    pass


class Session:
    def __init__(self, base, capabilities, timeout=60):
        self.base = base.rstrip("/")
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                value = self._call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
                self.id = value["sessionId"]
                return
            except (urllib.error.URLError, ConnectionError, WebDriverError) as e:
                last = e
                time.sleep(0.5)
        raise WebDriverError(f"no WebDriver session within {timeout} s: {last}")

    def _call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        if os.environ.get("WEBDRIVER_TRACE"):
            print(f"webdriver: {method} {path} {body if body and len(str(body)) < 200 else ''}",
                  file=sys.stderr, flush=True)
        # tauri-driver reuses its connections to WebKitWebDriver, which closes idle ones;
        # a request that meets a closed one fails before it is sent ("SendRequest") and
        # the proxy drops ours. It never reached the browser, so sending it again is safe.
        for attempt in range(4):
            req = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    return json.loads(resp.read() or b"{}").get("value")
            except urllib.error.HTTPError as e:
                detail = e.read().decode(errors="replace")
                raise WebDriverError(f"{method} {path}: {e.code} {detail[:400]}") from None
            except ConnectionError as e:
                if attempt == 3:
                    raise WebDriverError(
                        f"{method} {path}: the driver dropped the connection ({e})") from None
                time.sleep(0.3)

    def call(self, method, path, body=None):
        return self._call(method, f"/session/{self.id}{path}", body)

    def quit(self):
        try:
            self.call("DELETE", "")
        except Exception:
            pass

    # Elements -----------------------------------------------------------------------
    def find_all(self, testid):
        found = self.call("POST", "/elements", {"using": "css selector",
                                                "value": f'[data-testid="{testid}"]'})
        return [list(e.values())[0] for e in found]

    def find(self, testid, timeout=20):
        deadline = time.time() + timeout
        while True:
            els = self.find_all(testid)
            if els:
                return els[0]
            if time.time() > deadline:
                raise WebDriverError(f"no element [data-testid={testid!r}] within {timeout} s")
            time.sleep(0.2)

    def inside(self, element, testid):
        found = self.call("POST", f"/element/{element}/elements",
                          {"using": "css selector", "value": f'[data-testid="{testid}"]'})
        return [list(e.values())[0] for e in found]

    def click(self, element):
        self.call("POST", f"/element/{element}/click", {})

    def click_id(self, testid, timeout=20):
        deadline = time.time() + timeout
        while True:
            try:
                el = self.find(testid, timeout=max(0.1, deadline - time.time()))
                if self.enabled(el):
                    self.click(el)
                    return
            except WebDriverError:
                if time.time() > deadline:
                    raise
            if time.time() > deadline:
                raise WebDriverError(f"[data-testid={testid!r}] stayed disabled for {timeout} s")
            time.sleep(0.2)

    def type(self, element, text):
        self.call("POST", f"/element/{element}/value", {"text": text})

    def clear(self, element):
        self.call("POST", f"/element/{element}/clear", {})

    def set_value(self, testid, text):
        el = self.find(testid)
        self.clear(el)
        self.type(el, text)
        return el

    def select_option(self, testid, value):
        """Chooses the option with `value` in the <select> with testid."""
        sel = self.find(testid)
        opts = self.call("POST", f"/element/{sel}/elements",
                         {"using": "css selector", "value": f'option[value="{value}"]'})
        if not opts:
            raise WebDriverError(f"[data-testid={testid!r}] has no option {value!r}")
        self.click(list(opts[0].values())[0])

    def text(self, element):
        return self.call("GET", f"/element/{element}/text")

    def enabled(self, element):
        return bool(self.call("GET", f"/element/{element}/enabled"))

    def wait_text(self, testid, predicate, timeout=30, what=None):
        """Waits until some element with testid has text for which predicate holds."""
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            try:
                seen = [self.text(e) for e in self.find_all(testid)]
            except WebDriverError:
                seen = []
            for t in seen:
                if predicate(t):
                    return t
            time.sleep(0.3)
        raise WebDriverError(f"{what or testid}: not seen within {timeout} s; saw {seen!r}")

    # Windows and pictures -----------------------------------------------------------
    def handles(self):
        return self.call("GET", "/window/handles")

    def switch(self, handle):
        self.call("POST", "/window", {"handle": handle})

    def screenshot(self, path):
        # A screenshot right after a DOM change can be stale: let two frames pass.
        self.call("POST", "/execute/async", {
            "script": "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));",
            "args": []})
        png = base64.b64decode(self.call("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
