// The browser / device-code sign-in as a hook, for the wizard and a connection's "Sign in
// again": the reducer of signIn.ts, the progress events, numbered attempts (so a late answer
// of a cancelled or replaced attempt is dropped) and Cancel, written once.
import { useEffect, useReducer, useRef } from "preact/hooks";
import { api, errorText, events, type ProviderId } from "../api";
import { isCurrent, SIGN_IN_IDLE, signInReducer, type SignInState } from "./signIn";

export interface SignIn {
  state: SignInState;
  /** Runs `call` as a new attempt for `provider`; `done` gets its answer (and the account
   *  it names) only while it is still the current attempt. */
  start<T>(provider: ProviderId, call: () => Promise<T>, done: (answer: T) => string): Promise<void>;
  cancel(): void;
  /** Drops any attempt (cancelling one that waits) and returns to idle. */
  reset(): void;
}

export function useSignIn(): SignIn {
  const [state, dispatch] = useReducer(signInReducer, SIGN_IN_IDLE);
  const ref = useRef(state);
  ref.current = state;
  const seq = useRef(0);

  useEffect(() => {
    // Subscribed for the component's life, so progress sent right after the call is never
    // missed; the reducer ignores it unless a sign-in of that provider waits.
    const unlisten = events.signInProgress((progress) => dispatch({ type: "progress", progress }));
    return () => void unlisten.then((f) => f()).catch(() => {});
  }, []);

  return {
    state,
    async start(provider, call, done) {
      const attempt = ++seq.current;
      dispatch({ type: "start", attempt, provider });
      try {
        const answer = await call();
        if (attempt !== seq.current || !isCurrent(ref.current, attempt)) return;
        dispatch({ type: "resolved", attempt, account: done(answer) });
      } catch (e) {
        dispatch({ type: "rejected", attempt, text: errorText(e) });
      }
    },
    cancel() {
      dispatch({ type: "cancel" });
      api.cancelSignIn().catch((e) => dispatch({ type: "cancel-failed", text: errorText(e) }));
    },
    reset() {
      if (ref.current.kind === "waiting") api.cancelSignIn().catch(() => {});
      seq.current++;
      dispatch({ type: "reset" });
    },
  };
}
