// The browser / device-code sign-in state machine: what is shown while waiting, and which
// answers still count after a cancel, a retry or a provider change.
import { describe, expect, it } from "vitest";
import { isCurrent, SIGN_IN_IDLE, signInReducer, validFor, type SignInAction, type SignInState } from "../src/logic/signIn";

const run = (...actions: SignInAction[]): SignInState => actions.reduce(signInReducer, SIGN_IN_IDLE);
const start = (attempt: number, provider: "gdrive" | "baidu" = "gdrive"): SignInAction => ({ type: "start", attempt, provider });
const code = { user_code: "WDJB-MJHT", verification_url: "https://openapi.baidu.com/device", expires_in: 1800 };

describe("signInReducer", () => {
  it("waits, shows the page address from progress, then the account", () => {
    let s = run(start(1));
    expect(s).toMatchObject({ kind: "waiting", url: null, device: null, cancelling: false });
    s = signInReducer(s, { type: "progress", progress: { provider: "gdrive", url: "https://accounts.example/o?x=1", device: null } });
    expect(s).toMatchObject({ kind: "waiting", url: "https://accounts.example/o?x=1" });
    s = signInReducer(s, { type: "resolved", attempt: 1, account: "me@gmail.com" });
    expect(s).toEqual({ kind: "ok", provider: "gdrive", account: "me@gmail.com" });
  });

  it("keeps the device code of a device sign-in", () => {
    const s = run(start(1, "baidu"), { type: "progress", progress: { provider: "baidu", url: null, device: code } });
    expect(s).toMatchObject({ kind: "waiting", device: code });
  });

  it("ignores progress for another provider or when nothing waits", () => {
    const other = { type: "progress", progress: { provider: "baidu", url: null, device: code } } as const;
    expect(run(start(1, "gdrive"), other)).toMatchObject({ device: null });
    expect(run(other)).toBe(SIGN_IN_IDLE);
  });

  it("a rejection is shown, and a retry starts clean", () => {
    const failed = run(start(1), { type: "rejected", attempt: 1, text: "access denied" });
    expect(failed).toEqual({ kind: "error", provider: "gdrive", text: "access denied" });
    expect(signInReducer(failed, start(2))).toMatchObject({ kind: "waiting", attempt: 2, url: null });
  });

  it("the user's own cancel ends quietly, not as an error", () => {
    const s = run(start(1), { type: "cancel" });
    expect(s).toMatchObject({ kind: "waiting", cancelling: true });
    expect(signInReducer(s, { type: "rejected", attempt: 1, text: "sign-in cancelled" })).toBe(SIGN_IN_IDLE);
  });

  it("a failed cancel_sign_in is noted and the wait goes on", () => {
    const s = run(start(1), { type: "cancel" }, { type: "cancel-failed", text: "no sign-in in progress" });
    expect(s).toMatchObject({ kind: "waiting", cancelling: false, note: "no sign-in in progress" });
  });

  it("answers for an older attempt change nothing", () => {
    const retry = run(start(1), { type: "cancel" }, start(2));
    expect(signInReducer(retry, { type: "rejected", attempt: 1, text: "sign-in cancelled" })).toBe(retry);
    expect(signInReducer(retry, { type: "resolved", attempt: 1, account: "old" })).toBe(retry);
    expect(isCurrent(retry, 1)).toBe(false);
    expect(isCurrent(retry, 2)).toBe(true);
    // After a reset (another provider chosen) nothing is current.
    const reset = signInReducer(retry, { type: "reset" });
    expect(signInReducer(reset, { type: "resolved", attempt: 2, account: "late" })).toBe(SIGN_IN_IDLE);
  });

  it("access allowed just before Cancel still counts", () => {
    expect(run(start(1), { type: "cancel" }, { type: "resolved", attempt: 1, account: "me" })).toMatchObject({
      kind: "ok",
      account: "me",
    });
  });
});

describe("validFor", () => {
  it("says minutes, rounded, at least one", () => {
    expect(validFor(1800)).toBe("30 minutes");
    expect(validFor(60)).toBe("1 minute");
    expect(validFor(20)).toBe("1 minute");
    expect(validFor(290)).toBe("5 minutes");
  });
});
