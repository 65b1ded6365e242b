// While a browser or device-code sign-in waits for the user: the page address to open (if no
// browser came up) or the code to type, and Cancel. Shared by the wizard's sign-in step and
// a connection's "Sign in again".
import { validFor, type SignInState } from "../logic/signIn";

type Waiting = Extract<SignInState, { kind: "waiting" }>;

export function SignInWait(props: { state: Waiting; label: string; device: boolean; onCancel: () => void }) {
  const st = props.state;
  const device = props.device;
  return (
    <div class="signin-wait" role="status">
      <p class="waiting-line">
        <span class="spinner" aria-hidden="true" />
        {device && st.device
          ? "Waiting for you to enter the code and allow CloudSync..."
          : "Waiting for you to allow CloudSync in your browser..."}
      </p>
      {st.device ? (
        <div class="device-box">
          <p>
            Open <span class="copyable" data-testid="device-url">{st.device.verification_url}</span> on any phone or
            computer and enter this code:
          </p>
          <p class="device-code" data-testid="device-code">
            {st.device.user_code}
          </p>
          <p class="small muted">The code stays valid for {validFor(st.device.expires_in)}.</p>
        </div>
      ) : st.url ? (
        <div class="url-box">
          <p class="small">If no browser window opened, copy this address into your browser:</p>
          <p class="copyable" data-testid="sign-in-url">
            {st.url}
          </p>
        </div>
      ) : (
        <p class="small muted">{device ? `Asking ${props.label} for a code...` : "Opening the sign-in page..."}</p>
      )}
      <div class="button-row">
        <button type="button" data-testid="sign-in-cancel" disabled={st.cancelling} onClick={props.onCancel}>
          {st.cancelling ? "Cancelling..." : "Cancel"}
        </button>
      </div>
      {st.note && (
        <p class="error" role="alert">
          {st.note}
        </p>
      )}
    </div>
  );
}
