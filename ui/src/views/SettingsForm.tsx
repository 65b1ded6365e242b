// The connection options form, shared by the wizard's Options step and the Settings tab, so
// both show the same fields with the same rules (conversion lives in logic/settingsForm.ts).
import { useState } from "preact/hooks";
import { CONFLICT_POLICIES, MODES, type ConflictPolicy, type Mode } from "../api";
import { CONFLICT_LABELS, MODE_LABELS, type SettingsErrors, type SettingsValues } from "../logic/settingsForm";

interface Props {
  values: SettingsValues;
  errors: SettingsErrors;
  onChange: (v: SettingsValues) => void;
  /** Top-level remote folders to offer for selective sync; null when they cannot be listed. */
  remoteFolders: string[] | null;
  remoteFoldersNote?: string | null;
  disabled?: boolean;
}

function FieldError(props: { text?: string; id: string }) {
  return props.text ? (
    <span class="field-error" id={props.id} role="alert">
      {props.text}
    </span>
  ) : null;
}

export function SettingsForm(props: Props) {
  const { values: v, errors } = props;
  const [extraSkip, setExtraSkip] = useState("");
  const set = <K extends keyof SettingsValues>(key: K, value: SettingsValues[K]) =>
    props.onChange({ ...v, [key]: value });

  // Folders already skipped stay listed even when the remote no longer shows them, so they
  // can be un-skipped.
  const offered = [...(props.remoteFolders ?? [])];
  for (const f of v.skip_remote_folders) if (!offered.includes(f)) offered.push(f);
  const toggleSkip = (folder: string, on: boolean) =>
    set(
      "skip_remote_folders",
      on ? [...v.skip_remote_folders, folder] : v.skip_remote_folders.filter((f) => f !== folder),
    );
  const addExtra = () => {
    const f = extraSkip.trim().replace(/^\/+|\/+$/g, "");
    if (f && !v.skip_remote_folders.includes(f)) set("skip_remote_folders", [...v.skip_remote_folders, f]);
    setExtraSkip("");
  };

  return (
    <fieldset class="settings-form" disabled={props.disabled}>
      <section class="form-section">
        <h3>Direction</h3>
        <label class="field">
          <span class="label">Sync mode</span>
          <select
            data-testid="opt-mode"
            value={v.mode}
            onChange={(e) => set("mode", e.currentTarget.value as Mode)}
          >
            {MODES.map((m) => (
              <option key={m} value={m}>
                {MODE_LABELS[m]}
              </option>
            ))}
          </select>
        </label>
        <label class="check">
          <input
            type="checkbox"
            data-testid="opt-no-delete"
            checked={v.no_delete}
            onChange={(e) => set("no_delete", e.currentTarget.checked)}
          />
          <span>Don't delete in the destination what is deleted in the source</span>
        </label>
        <label class="check">
          <input
            type="checkbox"
            data-testid="opt-remote-trash"
            checked={v.remote_trash}
            onChange={(e) => set("remote_trash", e.currentTarget.checked)}
          />
          <span>Move remote deletes into the remote's <code>.cloudsync-trash</code> (where the cloud has no trash of its own)</span>
        </label>
      </section>

      <section class="form-section">
        <h3>Conflicts</h3>
        <label class="field">
          <span class="label">When a file changed on both sides</span>
          <select
            data-testid="opt-conflict"
            value={v.conflict}
            onChange={(e) => set("conflict", e.currentTarget.value as ConflictPolicy)}
          >
            {CONFLICT_POLICIES.map((c) => (
              <option key={c} value={c}>
                {CONFLICT_LABELS[c]}
              </option>
            ))}
          </select>
        </label>
      </section>

      <section class="form-section">
        <h3>What to sync</h3>
        <div class="field">
          <span class="label">Skip these remote folders</span>
          {offered.length === 0 ? (
            <p class="muted small">{props.remoteFoldersNote ?? "The remote folder has no subfolders."}</p>
          ) : (
            <ul class="check-list" data-testid="opt-skip-list">
              {offered.map((f) => (
                <li key={f}>
                  <label class="check">
                    <input
                      type="checkbox"
                      data-testid={`opt-skip-${f}`}
                      checked={v.skip_remote_folders.includes(f)}
                      onChange={(e) => toggleSkip(f, e.currentTarget.checked)}
                    />
                    <span class="path">{f}</span>
                  </label>
                </li>
              ))}
            </ul>
          )}
          {props.remoteFolders === null && (
            <div class="inline-add">
              <input
                type="text"
                aria-label="Remote folder to skip"
                placeholder="Photos/2019"
                value={extraSkip}
                onInput={(e) => setExtraSkip(e.currentTarget.value)}
                onKeyDown={(e) => e.key === "Enter" && (e.preventDefault(), addExtra())}
              />
              <button type="button" onClick={addExtra} disabled={!extraSkip.trim()}>
                Skip folder
              </button>
            </div>
          )}
        </div>
        <label class="field">
          <span class="label">Exclude patterns (one glob per line)</span>
          <textarea
            data-testid="opt-exclude"
            rows={3}
            placeholder={"*.tmp\nnode_modules"}
            value={v.exclude}
            onInput={(e) => set("exclude", e.currentTarget.value)}
          />
        </label>
        <div class="field-row">
          <label class="field">
            <span class="label">Excluded extensions</span>
            <input
              type="text"
              data-testid="opt-exclude-ext"
              placeholder="iso, part"
              value={v.exclude_extensions}
              onInput={(e) => set("exclude_extensions", e.currentTarget.value)}
            />
          </label>
          <label class="field">
            <span class="label">Largest file to sync</span>
            <input
              type="text"
              data-testid="opt-max-size"
              placeholder="no limit, e.g. 2G"
              aria-invalid={!!errors.max_size}
              aria-describedby="err-max-size"
              value={v.max_size}
              onInput={(e) => set("max_size", e.currentTarget.value)}
            />
            <FieldError id="err-max-size" text={errors.max_size} />
          </label>
        </div>
      </section>

      <section class="form-section">
        <h3>When and how fast</h3>
        <div class="field-row">
          <label class="field">
            <span class="label">Schedule</span>
            <input
              type="text"
              data-testid="opt-schedule"
              placeholder="always"
              aria-describedby="schedule-hint"
              value={v.schedule_text}
              onInput={(e) => set("schedule_text", e.currentTarget.value)}
            />
            <span class="hint" id="schedule-hint">
              "always", or hours like <code>mon-fri 9-17; sat 10-12</code>
            </span>
            <FieldError id="err-schedule" text={errors.schedule_text} />
          </label>
          <label class="field">
            <span class="label">Check for changes every (s)</span>
            <input
              type="number"
              min={1}
              data-testid="opt-poll"
              aria-invalid={!!errors.poll_interval_secs}
              value={v.poll_interval_secs}
              onInput={(e) => set("poll_interval_secs", e.currentTarget.value)}
            />
            <FieldError id="err-poll" text={errors.poll_interval_secs} />
          </label>
        </div>
        <div class="field-row">
          <label class="field">
            <span class="label">Upload limit (KB/s)</span>
            <input
              type="number"
              min={0}
              data-testid="opt-bw-up"
              placeholder="no limit"
              aria-invalid={!!errors.bwlimit_up_kbs}
              value={v.bwlimit_up_kbs}
              onInput={(e) => set("bwlimit_up_kbs", e.currentTarget.value)}
            />
            <FieldError id="err-bw-up" text={errors.bwlimit_up_kbs} />
          </label>
          <label class="field">
            <span class="label">Download limit (KB/s)</span>
            <input
              type="number"
              min={0}
              data-testid="opt-bw-down"
              placeholder="no limit"
              aria-invalid={!!errors.bwlimit_down_kbs}
              value={v.bwlimit_down_kbs}
              onInput={(e) => set("bwlimit_down_kbs", e.currentTarget.value)}
            />
            <FieldError id="err-bw-down" text={errors.bwlimit_down_kbs} />
          </label>
          <label class="field">
            <span class="label">Parallel transfers</span>
            <input
              type="number"
              min={1}
              max={64}
              data-testid="opt-transfers"
              aria-invalid={!!errors.transfers}
              value={v.transfers}
              onInput={(e) => set("transfers", e.currentTarget.value)}
            />
            <FieldError id="err-transfers" text={errors.transfers} />
          </label>
        </div>
      </section>
    </fieldset>
  );
}
