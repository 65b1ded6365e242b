// Wizard step 2: credentials. Form providers get their fields and a Test button; browser and
// device-code providers get a "Sign in with ..." button and, while the app waits, the page
// address or the code to type (the state itself lives in logic/signIn.ts).
import type { ProviderInfo } from "../../api";
import type { SignInState } from "../../logic/signIn";
import { SignInWait } from "../SignInWait";
import { SIGN_IN_FIELDS } from "../../logic/wizardSteps";

export type TestState =
  | { kind: "idle" }
  | { kind: "testing" }
  | { kind: "ok"; account: string; remote: string }
  | { kind: "error"; text: string };

export function SignInStep(props: {
  provider: ProviderInfo;
  fields: Record<string, string>;
  onField: (key: string, value: string) => void;
  onPick: (key: string) => void;
  pickError: string | null;
  test: TestState;
  onTest: () => void;
  canTest: boolean;
  signIn: SignInState;
  onSignIn: () => void;
  onCancelSignIn: () => void;
}) {
  const p = props.provider;
  if (p.sign_in === "none") {
    return (
      <p class="lead-text">
        The {p.label} needs no sign-in: it runs inside CloudSync. Choose <strong>Next</strong> to pick the folders.
      </p>
    );
  }
  if (p.sign_in === "browser" || p.sign_in === "device") {
    return <OutsideSignIn provider={p} state={props.signIn} onStart={props.onSignIn} onCancel={props.onCancelSignIn} />;
  }
  const specs = SIGN_IN_FIELDS[p.id] ?? [];
  return (
    <form
      class="signin-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (props.canTest) props.onTest();
      }}
    >
      {specs.map((f) => (
        <label key={f.key} class="field">
          <span class="label">
            {f.label}
            {f.required && <span class="required" aria-hidden="true"> *</span>}
          </span>
          <span class={f.folder ? "input-with-button" : undefined}>
            <input
              // Preact's typings cannot take a union of input types; both are plain text inputs.
              type={(f.secret ? "password" : "text") as "text"}
              data-testid={`field-${f.key}`}
              name={f.key}
              required={f.required}
              placeholder={f.placeholder}
              autocomplete={f.secret ? "off" : undefined}
              spellcheck={false}
              value={props.fields[f.key] ?? ""}
              onInput={(e) => props.onField(f.key, e.currentTarget.value)}
            />
            {f.folder && (
              <button type="button" onClick={() => props.onPick(f.key)}>
                Choose…
              </button>
            )}
          </span>
          {f.hint && <span class="hint">{f.hint}</span>}
          {f.folder && props.pickError && (
            <span class="field-error" role="alert">
              {props.pickError}
            </span>
          )}
        </label>
      ))}
      <div class="button-row">
        <button type="submit" data-testid="test-connection" disabled={!props.canTest || props.test.kind === "testing"}>
          {props.test.kind === "testing" ? "Testing…" : "Test"}
        </button>
        <TestResult test={props.test} />
      </div>
    </form>
  );
}

function TestResult(props: { test: TestState }) {
  const t = props.test;
  if (t.kind === "ok")
    return (
      <span class="ok-text" data-testid="test-result" role="status">
        Signed in as <strong>{t.account}</strong> · {t.remote}
      </span>
    );
  if (t.kind === "error")
    return (
      <span class="error" data-testid="test-result" role="alert">
        {t.text}
      </span>
    );
  return null;
}

function OutsideSignIn(props: { provider: ProviderInfo; state: SignInState; onStart: () => void; onCancel: () => void }) {
  const p = props.provider;
  const st = props.state;
  const device = p.sign_in === "device";
  return (
    <div class="outside-signin">
      <p class="lead-text">
        {device
          ? `You sign in to ${p.label} with a device code: CloudSync shows a short code and a web address; open it on any device, sign in there and type the code.`
          : `You sign in to ${p.label} in your web browser: CloudSync opens the ${p.label} sign-in page, you allow access there and come back here.`}{" "}
        CloudSync never sees your password.
      </p>
      {st.kind === "waiting" ? (
        <SignInWait state={st} label={p.label} device={device} onCancel={props.onCancel} />
      ) : (
        <>
          {st.kind === "ok" && (
            <p class="ok-text signed-in" data-testid="sign-in-account" role="status">
              Signed in as <strong>{st.account}</strong>
            </p>
          )}
          {st.kind === "error" && (
            <p class="error" data-testid="sign-in-error" role="alert">
              {st.text}
            </p>
          )}
          <div class="button-row">
            <button type="button" class={st.kind === "ok" ? undefined : "primary"} data-testid="sign-in-start" onClick={props.onStart}>
              {st.kind === "ok" ? "Sign in with another account" : st.kind === "error" ? "Try again" : `Sign in with ${p.label}`}
            </button>
          </div>
        </>
      )}
    </div>
  );
}
