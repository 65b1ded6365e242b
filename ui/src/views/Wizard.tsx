// The "Add connection" wizard window: holds the whole form across steps, fetches what each
// step needs, and calls add_connection at the end. Step rules live in logic/wizardSteps.ts.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, errorText, type ConnectionStatus, type ProviderId, type ProviderInfo } from "../api";
import { useSignIn } from "../logic/useSignIn";
import { defaultSettings, settingsToValues, valuesToSettings, type SettingsValues } from "../logic/settingsForm";
import {
  blockedReason,
  buildForm,
  defaultName,
  STEP_TITLES,
  STEPS,
  withoutSessions,
  type StepId,
  type WizardState,
} from "../logic/wizardSteps";
import { DoneStep } from "./wizard/DoneStep";
import { FoldersStep, type RemoteBrowse } from "./wizard/FoldersStep";
import { OptionsStep } from "./wizard/OptionsStep";
import { ProviderStep } from "./wizard/ProviderStep";
import { SignInStep, type TestState } from "./wizard/SignInStep";
import { SummaryStep } from "./wizard/SummaryStep";

const CHECK_DELAY_MS = 300;

export function Wizard() {
  const [providers, setProviders] = useState<ProviderInfo[] | null>(null);
  const [providersError, setProvidersError] = useState<string | null>(null);
  const [existing, setExisting] = useState<string[]>([]);
  const [step, setStep] = useState<StepId>("provider");

  const [provider, setProvider] = useState<ProviderInfo | null>(null);
  const [fieldsBy, setFieldsBy] = useState<Partial<Record<ProviderId, Record<string, string>>>>({});
  const [test, setTest] = useState<TestState>({ kind: "idle" });
  const signInFlow = useSignIn();
  const signIn = signInFlow.state;

  const [name, setName] = useState("");
  const [nameTouched, setNameTouched] = useState(false);
  const [localRoot, setLocalRoot] = useState("");
  const [localCheck, setLocalCheck] = useState<WizardState["localCheck"]>(null);
  const [pickError, setPickError] = useState<string | null>(null);
  const [remoteFolder, setRemoteFolder] = useState("");
  const [browse, setBrowse] = useState<RemoteBrowse>({ path: "", folders: null, error: null });

  const [values, setValues] = useState<SettingsValues>(() => settingsToValues(defaultSettings(), "always"));
  const [topFolders, setTopFolders] = useState<string[] | null>(null);
  const [topFoldersError, setTopFoldersError] = useState<string | null>(null);

  const [finishing, setFinishing] = useState(false);
  const [finishError, setFinishError] = useState<string | null>(null);
  const [created, setCreated] = useState<ConnectionStatus | null>(null);
  const [closeError, setCloseError] = useState<string | null>(null);

  useEffect(() => {
    document.title = "Add connection — CloudSync";
    api
      .providers()
      .then(setProviders)
      .catch((e) => setProvidersError(errorText(e)));
    // Only to suggest a free name; the wizard works without it.
    api
      .snapshot()
      .then((s) => setExisting(s.connections.map((c) => c.name)))
      .catch(() => {});
  }, []);

  const fields = (provider && fieldsBy[provider.id]) || {};
  const converted = useMemo(() => valuesToSettings(values, defaultSettings()), [values]);
  const settings = converted.ok ? converted.settings : defaultSettings();
  const scheduleText = converted.ok ? converted.scheduleText : "always";

  const state: WizardState = {
    provider,
    fields,
    name,
    localRoot,
    localCheck,
    remoteFolder,
    settingsOk: converted.ok,
    signingIn: signIn.kind === "waiting",
  };
  const form = buildForm(state, settings, scheduleText);
  const formRef = useRef(form);
  formRef.current = form;
  const blocked = blockedReason(step, state);

  const chooseProvider = (p: ProviderInfo) => {
    if (provider?.id !== p.id) {
      setTest({ kind: "idle" });
      setRemoteFolder("");
      setBrowse({ path: "", folders: null, error: null });
      setTopFolders(null);
      signInFlow.reset();
      setFieldsBy(withoutSessions);
    }
    setProvider(p);
    if (!nameTouched) setName(defaultName(p.id, existing));
  };

  const setField = (key: string, value: string) => {
    if (!provider) return;
    setFieldsBy((all) => ({ ...all, [provider.id]: { ...(all[provider.id] ?? {}), [key]: value } }));
    // An answer for other credentials would be misleading.
    setTest({ kind: "idle" });
  };

  const setSession = (id: ProviderId, session: string | null) =>
    setFieldsBy((all) => {
      const { session: _old, ...rest } = all[id] ?? {};
      return { ...all, [id]: session === null ? rest : { ...rest, session } };
    });

  const startSignIn = async () => {
    if (!provider) return;
    const id = provider.id;
    // A new sign-in replaces the old session, whatever its outcome.
    setSession(id, null);
    await signInFlow.start(id, () => api.signIn(id), (r) => {
      setSession(id, r.session);
      return r.account;
    });
  };

  const cancelSignIn = signInFlow.cancel;

  const runTest = async () => {
    setTest({ kind: "testing" });
    try {
      const r = await api.testConnection(formRef.current);
      setTest({ kind: "ok", account: r.account, remote: r.remote });
    } catch (e) {
      setTest({ kind: "error", text: errorText(e) });
    }
  };

  const pickInto = async (apply: (path: string) => void) => {
    setPickError(null);
    try {
      const p = await api.pickFolder();
      if (p) apply(p);
    } catch (e) {
      setPickError(errorText(e));
    }
  };

  // Check the local folder shortly after typing stops; the answer is kept with its path so
  // a late answer for an older path cannot enable Next.
  // Re-checked on coming back to the step too: the folder may have filled up meanwhile.
  useEffect(() => {
    if (step !== "folders") return;
    const path = localRoot.trim();
    if (!path) {
      setLocalCheck(null);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      api
        .checkLocalFolder(path)
        .then((result) => live && setLocalCheck({ path, result }))
        .catch((e) => live && setLocalCheck({ path, result: { ok: false, reason: errorText(e) } }));
    }, CHECK_DELAY_MS);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [localRoot, step]);

  // List the remote folder being browsed while the Folders step is open.
  useEffect(() => {
    if (step !== "folders" || !provider) return;
    let live = true;
    setBrowse((b) => ({ ...b, folders: null, error: null }));
    api
      .remoteFolders(formRef.current, browse.path)
      .then((folders) => live && setBrowse((b) => ({ ...b, folders: [...folders].sort(), error: null })))
      .catch((e) => live && setBrowse((b) => ({ ...b, folders: [], error: errorText(e) })));
    return () => {
      live = false;
    };
  }, [step, provider?.id, browse.path]);

  // The skip list offers the subfolders of the chosen remote folder.
  useEffect(() => {
    if (step !== "options" || !provider) return;
    let live = true;
    setTopFolders(null);
    setTopFoldersError(null);
    api
      .remoteFolders(formRef.current, remoteFolder)
      .then((f) => live && setTopFolders([...f].sort()))
      .catch((e) => live && (setTopFolders([]), setTopFoldersError(errorText(e))));
    return () => {
      live = false;
    };
  }, [step, provider?.id, remoteFolder]);

  const index = STEPS.indexOf(step);
  const next = () => {
    if (blocked) return;
    setFinishError(null);
    setStep(STEPS[Math.min(index + 1, STEPS.indexOf("summary"))]);
  };
  const back = () => {
    setFinishError(null);
    setStep(STEPS[Math.max(index - 1, 0)]);
  };

  const finish = async () => {
    setFinishing(true);
    setFinishError(null);
    try {
      const c = await api.addConnection(formRef.current);
      setCreated(c);
      setStep("done");
    } catch (e) {
      setFinishError(errorText(e));
    } finally {
      setFinishing(false);
    }
  };

  const close = () => {
    setCloseError(null);
    api.closeWizard().catch((e) => setCloseError(errorText(e)));
  };

  const localError =
    localCheck && localCheck.path === localRoot.trim() && !localCheck.result.ok
      ? localCheck.result.reason ?? "This folder cannot be used."
      : null;

  return (
    <div class="wizard">
      <header class="wizard-head">
        <h1>Add a connection</h1>
        <ol class="steps" aria-label="Steps">
          {STEPS.filter((s) => s !== "done").map((s, i) => (
            <li
              key={s}
              class={s === step ? "current" : i < index ? "past" : undefined}
              aria-current={s === step ? "step" : undefined}
            >
              <span class="step-num">{i + 1}</span>
              {STEP_TITLES[s]}
            </li>
          ))}
        </ol>
      </header>

      <main class="wizard-body" data-step={step}>
        <h2 class="step-title">{stepHeading(step, provider)}</h2>
        {step === "provider" &&
          (providers ? (
            <ProviderStep providers={providers} selected={provider} onSelect={chooseProvider} onChoose={(p) => (chooseProvider(p), setStep("signin"))} />
          ) : providersError ? (
            <p class="error" role="alert">{providersError}</p>
          ) : (
            <p class="placeholder">Loading…</p>
          ))}
        {step === "signin" && provider && (
          <SignInStep
            provider={provider}
            fields={fields}
            onField={setField}
            onPick={(key) => pickInto((p) => setField(key, p))}
            pickError={pickError}
            test={test}
            onTest={runTest}
            canTest={blockedReason("signin", state) === null}
            signIn={signIn}
            onSignIn={startSignIn}
            onCancelSignIn={cancelSignIn}
          />
        )}
        {step === "folders" && (
          <FoldersStep
            provider={provider?.id}
            name={name}
            onName={(v) => (setName(v), setNameTouched(true))}
            localRoot={localRoot}
            onLocalRoot={setLocalRoot}
            onPick={() => pickInto(setLocalRoot)}
            pickError={pickError}
            localError={localError}
            localOk={!!localCheck && localCheck.path === localRoot.trim() && localCheck.result.ok}
            browse={browse}
            onBrowse={(path) => setBrowse({ path, folders: null, error: null })}
            remoteFolder={remoteFolder}
            onUseRemote={(p) => {
              setRemoteFolder(p);
              // Skips are relative to the sync root, so old ones mean nothing under a new root.
              setValues((v) => ({ ...v, skip_remote_folders: [] }));
            }}
          />
        )}
        {step === "options" && (
          <OptionsStep
            values={values}
            errors={converted.ok ? {} : converted.errors}
            onChange={setValues}
            topFolders={topFolders}
            topFoldersError={topFoldersError}
          />
        )}
        {step === "summary" && provider && (
          <SummaryStep
            provider={provider}
            account={test.kind === "ok" ? test.account : signIn.kind === "ok" ? signIn.account : null}
            name={form.name}
            localRoot={form.local_root}
            remoteFolder={form.remote_folder}
            settings={settings}
            scheduleText={scheduleText}
          />
        )}
        {step === "done" && created && <DoneStep created={created} onClose={close} closeError={closeError} />}
      </main>

      {step !== "done" && (
        <footer class="wizard-foot">
          <p class="foot-note" aria-live="polite">
            {finishError ? (
              <span class="error" role="alert" data-testid="wizard-error">
                {finishError}
              </span>
            ) : (
              // The local folder's reason is already shown next to the field.
              blocked && step !== "provider" && blocked !== localError && <span class="muted">{blocked}</span>
            )}
          </p>
          <button type="button" data-testid="wizard-back" disabled={index === 0 || finishing || signIn.kind === "waiting"} onClick={back}>
            Back
          </button>
          {step === "summary" ? (
            <button type="button" class="primary" data-testid="wizard-finish" disabled={finishing} onClick={finish}>
              {finishing ? "Creating…" : "Finish"}
            </button>
          ) : (
            <button type="button" class="primary" data-testid="wizard-next" disabled={blocked !== null} onClick={next}>
              Next
            </button>
          )}
        </footer>
      )}
    </div>
  );
}

function stepHeading(step: StepId, p: ProviderInfo | null): string {
  switch (step) {
    case "provider":
      return "Where do you want to sync with?";
    case "signin":
      return p ? `Sign in to ${p.label}` : "Sign in";
    case "folders":
      return "Choose the folders";
    case "options":
      return "Options";
    case "summary":
      return "Check and create";
    case "done":
      return "";
  }
}
