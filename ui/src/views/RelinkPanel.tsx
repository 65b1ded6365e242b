// Shown above the tabs when the provider refused a connection's stored sign-in (revoked or
// expired): why nothing syncs, and "Sign in again" with the same account. Both folders stay
// as they are meanwhile; the engine finds what changed on either side once it is back.
import { useEffect, useRef } from "preact/hooks";
import { api, type ConnectionStatus, type ProviderId } from "../api";
import { providerLabel } from "../format";
import { useSignIn } from "../logic/useSignIn";
import { SignInWait } from "./SignInWait";

export function RelinkPanel(props: { status: ConnectionStatus; onChanged: () => void }) {
  const s = props.status;
  const label = providerLabel(s.provider);
  const flow = useSignIn();
  const st = flow.state;
  const waiting = useRef(false);
  waiting.current = st.kind === "waiting";

  // Leaving the panel (another connection, unlink) must not leave a sign-in waiting.
  useEffect(
    () => () => {
      if (waiting.current) api.cancelSignIn().catch(() => {});
    },
    [],
  );

  const start = () =>
    flow.start(s.provider as ProviderId, () => api.relink(s.name), () => {
      props.onChanged();
      return s.account;
    });
  const cancel = flow.cancel;

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
