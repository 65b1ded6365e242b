// The Settings tab: the shared SettingsForm over one connection's saved settings.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorText, type ConnectionDetail } from "../api";
import {
  settingsToValues,
  valuesToSettings,
  type SettingsErrors,
  type SettingsValues,
} from "../logic/settingsForm";
import { SettingsForm } from "./SettingsForm";

export function SettingsTab(props: { detail: ConnectionDetail; onSaved: (d: ConnectionDetail) => void }) {
  const d = props.detail;
  const [values, setValues] = useState<SettingsValues>(() => settingsToValues(d.settings, d.schedule_text));
  const [dirty, setDirty] = useState(false);
  const [errors, setErrors] = useState<SettingsErrors>({});
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState(false);
  // The remote's top-level folders, offered for selective sync; null while loading or when
  // the remote cannot be listed (then folders are typed in).
  const [remoteFolders, setRemoteFolders] = useState<string[] | null>(null);
  const [foldersNote, setFoldersNote] = useState<string | null>("Listing the remote's folders…");
  useEffect(() => {
    let live = true;
    api.connectionRemoteFolders(d.status.name, "").then(
      (f) => live && (setRemoteFolders(f), setFoldersNote(null)),
      (e) => live && setFoldersNote(`The remote's folders could not be listed (${errorText(e)}); type one below.`),
    );
    return () => {
      live = false;
    };
  }, [d.status.name]);

  // Refill from the engine when the saved settings change underneath while the user has not
  // started editing. Only on a real change: a mount-time refill would run after paint and
  // could wipe what the user typed in the first frames. (Another connection gets a fresh
  // component: MainWindow keys the tabs by connection name.)
  const savedKey = JSON.stringify([d.settings, d.schedule_text]);
  const lastKey = useRef(savedKey);
  const dirtyRef = useRef(dirty);
  dirtyRef.current = dirty;
  useEffect(() => {
    if (savedKey === lastKey.current) return;
    lastKey.current = savedKey;
    if (!dirtyRef.current) setValues(settingsToValues(d.settings, d.schedule_text));
  }, [savedKey]);

  const change = (v: SettingsValues) => {
    setValues(v);
    setDirty(true);
    setSaved(false);
  };

  const save = async (e: Event) => {
    e.preventDefault();
    const r = valuesToSettings(values, d.settings);
    if (!r.ok) {
      setErrors(r.errors);
      setError("Some options need fixing (marked above).");
      return;
    }
    setErrors({});
    setError(null);
    setSaving(true);
    try {
      const fresh = await api.saveSettings(d.status.name, r.settings, r.scheduleText);
      setDirty(false);
      setSaved(true);
      setValues(settingsToValues(fresh.settings, fresh.schedule_text));
      props.onSaved(fresh);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  };

  return (
    // Our own validation shows the reasons inline; the browser's bubbles would not.
    <form class="settings-tab" noValidate onSubmit={save}>
      <SettingsForm
        values={values}
        errors={errors}
        onChange={change}
        remoteFolders={remoteFolders}
        remoteFoldersNote={foldersNote}
        disabled={saving}
      />
      <div class="button-row sticky-foot">
        <button type="submit" class="primary" data-testid="settings-save" disabled={saving}>
          {saving ? "Saving…" : "Save"}
        </button>
        <button
          type="button"
          disabled={!dirty || saving}
          onClick={() => {
            setValues(settingsToValues(d.settings, d.schedule_text));
            setDirty(false);
            setErrors({});
            setError(null);
          }}
        >
          Revert
        </button>
        {saved && !dirty && <span class="ok-text" data-testid="settings-saved">Saved.</span>}
        {error && (
          <p class="error" role="alert" data-testid="settings-error">
            {error}
          </p>
        )}
      </div>
    </form>
  );
}
