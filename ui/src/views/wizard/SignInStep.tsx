// Wizard step 2: credentials. Form providers get their fields and a Test button; the others
// get a sentence on how they sign in (the browser and device flows are wired later).
import type { ProviderInfo } from "../../api";
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
}) {
  const p = props.provider;
  if (p.sign_in === "none") {
    return (
      <p class="lead-text">
        The {p.label} needs no sign-in: it runs inside CloudSync. Choose <strong>Next</strong> to pick the folders.
      </p>
    );
  }
  if (p.sign_in === "browser") {
    return (
      <p class="lead-text">
        {p.label} signs in in your web browser: when you finish the wizard, CloudSync opens the {p.label} sign-in
        page, and you come back here once you have allowed access. CloudSync never sees your password.
      </p>
    );
  }
  if (p.sign_in === "device") {
    return (
      <p class="lead-text">
        {p.label} signs in with a device code: CloudSync shows a short code and a web address; open it on any
        device, sign in there and type the code. CloudSync never sees your password.
      </p>
    );
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
