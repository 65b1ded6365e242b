// The browser / device-code sign-in as a pure state machine, so stale answers (a cancelled
// attempt rejecting after a retry started, progress for another provider) are ruled out in
// one unit-tested place and the step component only renders the state.
import type { DeviceCode, ProviderId, SignInProgress } from "../api";
import { plural } from "../format";

export type SignInState =
  | { kind: "idle" }
  | {
      kind: "waiting";
      attempt: number;
      provider: ProviderId;
      url: string | null;
      device: DeviceCode | null;
      cancelling: boolean;
      /** cancel_sign_in itself failed. */
      note: string | null;
    }
  | { kind: "ok"; provider: ProviderId; account: string }
  | { kind: "error"; provider: ProviderId; text: string };

export type SignInAction =
  | { type: "start"; attempt: number; provider: ProviderId }
  | { type: "progress"; progress: SignInProgress }
  | { type: "cancel" }
  | { type: "cancel-failed"; text: string }
  | { type: "resolved"; attempt: number; account: string }
  | { type: "rejected"; attempt: number; text: string }
  | { type: "reset" };

export const SIGN_IN_IDLE: SignInState = { kind: "idle" };

/** Whether an answer for `attempt` still counts (the caller keeps the session only then). */
export function isCurrent(s: SignInState, attempt: number): boolean {
  return s.kind === "waiting" && s.attempt === attempt;
}

export function signInReducer(s: SignInState, a: SignInAction): SignInState {
  switch (a.type) {
    case "start":
      return { kind: "waiting", attempt: a.attempt, provider: a.provider, url: null, device: null, cancelling: false, note: null };
    case "progress":
      if (s.kind !== "waiting" || a.progress.provider !== s.provider) return s;
      return { ...s, url: a.progress.url, device: a.progress.device };
    case "cancel":
      return s.kind === "waiting" ? { ...s, cancelling: true, note: null } : s;
    case "cancel-failed":
      return s.kind === "waiting" ? { ...s, cancelling: false, note: a.text } : s;
    case "resolved":
      // Accepted even while cancelling: the user did allow access, the session is good.
      return isCurrent(s, a.attempt) && s.kind === "waiting" ? { kind: "ok", provider: s.provider, account: a.account } : s;
    case "rejected":
      if (!isCurrent(s, a.attempt) || s.kind !== "waiting") return s;
      // The user's own Cancel is no error to show.
      return s.cancelling ? SIGN_IN_IDLE : { kind: "error", provider: s.provider, text: a.text };
    case "reset":
      return SIGN_IN_IDLE;
  }
}

/** "15 minutes" for a device code's expires_in (seconds), never "0 minutes". */
export function validFor(expiresInSecs: number): string {
  return plural(Math.max(1, Math.round(expiresInSecs / 60)), "minute");
}
