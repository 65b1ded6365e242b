// Shown above the tabs when the provider refused a connection's stored sign-in (revoked or
// expired): why nothing syncs, and "Sign in again" with the same account. Both folders stay
// as they are meanwhile; the engine finds what changed on either side once it is back.
import { useEffect, useReducer, useRef } from "preact/hooks";
import { api, errorText, events, type ConnectionStatus, type ProviderId } from "../api";
import { providerLabel } from "../format";
import { isCurrent, SIGN_IN_IDLE, signInReducer } from "../logic/signIn";
import { SignInWait } from "./SignInWait";

export function RelinkPanel(props: { status: ConnectionStatus; onChanged: () => void }) {
  const s = props.status;
  const label = providerLabel(s.provider);
  const [st, dispatch] = useReducer(signInReducer, SIGN_IN_IDLE);
  const stRef = useRef(st);
  stRef.current = st;
  const seq = useRef(0);

  useEffect(() => {
    // Subscribed for the panel's life, so progress sent right after `relink` is never missed.
    const unlisten = events.signInProgress((progress) => dispatch({ type: "progress", progress }));
    return () => {
      // Leaving the panel (another connection, unlink) must not leave a sign-in waiting.
      if (stRef.current.kind === "waiting") api.cancelSignIn().catch(() => {});
      void unlisten.then((f) => f()).catch(() => {});
    };
  }, []);

  const start = async () => {
    const attempt = ++seq.current;
    dispatch({ type: "start", attempt, provider: s.provider as ProviderId });
    try {
      await api.relink(s.name);
      if (attempt !== seq.current || !isCurrent(stRef.current, attempt)) return;
      dispatch({ type: "resolved", attempt, account: s.account });
      props.onChanged();
    } catch (e) {
      dispatch({ type: "rejected", attempt, text: errorText(e) });
    }
  };

  const cancel = () => {
    dispatch({ type: "cancel" });
    api.cancelSignIn().catch((e) => dispatch({ type: "cancel-failed", text: errorText(e) }));
  };

  return (
    <section class="approval-panel relink-panel" data-testid="relink-panel" aria-labelledby="relink-title">
      <h2 id="relink-title">Sign in to {label} again</h2>
      <p>
        {label} no longer accepts this connection's sign-in (it was revoked or has expired), so nothing syncs.
        Sign in again with the same account{s.account ? <> (<strong>{s.account}</strong>)</> : null}: your files stay
        as they are meanwhile, and what changed on either side syncs once you are back.
      </p>
      {st.kind === "waiting" ? (
        <SignInWait state={st} label={label} device={s.provider === "baidu"} onCancel={cancel} />
      ) : st.kind === "ok" ? (
        <p class="ok-text" role="status" data-testid="relink-done">
          Signed in again; syncing resumes.
        </p>
      ) : (
        <>
          {st.kind === "error" && (
            <p class="error" role="alert" data-testid="relink-error">
              {st.text}
            </p>
          )}
          <div class="button-row">
            <button type="button" class="primary" data-testid="relink-start" onClick={start}>
              {st.kind === "error" ? "Try again" : "Sign in again…"}
            </button>
          </div>
        </>
      )}
    </section>
  );
}
