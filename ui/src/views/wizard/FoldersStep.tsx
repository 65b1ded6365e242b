// Wizard step 3: the connection's name, the (empty) local folder and the remote folder,
// chosen by browsing the remote.
import type { ProviderId } from "../../api";
import { breadcrumb, defaultRemoteText } from "../../logic/wizardSteps";

export interface RemoteBrowse {
  path: string;
  folders: string[] | null; // null while loading
  error: string | null;
}

export function FoldersStep(props: {
  provider?: ProviderId;
  name: string;
  onName: (v: string) => void;
  localRoot: string;
  onLocalRoot: (v: string) => void;
  onPick: () => void;
  pickError: string | null;
  localError: string | null;
  localOk: boolean;
  browse: RemoteBrowse;
  onBrowse: (path: string) => void;
  remoteFolder: string;
  onUseRemote: (path: string) => void;
}) {
  const b = props.browse;
  const crumbs = breadcrumb(b.path);
  return (
    <div class="folders-step">
      <label class="field">
        <span class="label">Connection name</span>
        <input
          type="text"
          data-testid="conn-name"
          value={props.name}
          maxLength={64}
          onInput={(e) => props.onName(e.currentTarget.value)}
        />
      </label>

      <div class="field">
        <label class="label" for="local-folder">
          Local folder <span class="muted">(an empty folder; CloudSync fills it)</span>
        </label>
        <span class="input-with-button">
          <input
            id="local-folder"
            type="text"
            data-testid="local-folder-input"
            spellcheck={false}
            placeholder="/home/me/CloudSync"
            aria-invalid={!!props.localError}
            aria-describedby="local-folder-error"
            value={props.localRoot}
            onInput={(e) => props.onLocalRoot(e.currentTarget.value)}
          />
          <button type="button" data-testid="pick-folder" onClick={props.onPick}>
            Choose…
          </button>
        </span>
        {props.localError ? (
          <span class="field-error" id="local-folder-error" data-testid="local-folder-error" role="alert">
            {props.localError}
          </span>
        ) : props.localOk ? (
          <span class="ok-text small">This folder is empty and can be used.</span>
        ) : null}
        {props.pickError && <span class="field-error">{props.pickError}</span>}
      </div>

      <div class="field">
        <span class="label">Remote folder</span>
        <div class="remote-browser">
          <nav class="breadcrumb" aria-label="Remote path">
            {crumbs.map((c, i) => (
              <span key={c.path}>
                {i > 1 && <span class="sep">/</span>}
                <button
                  type="button"
                  class="link"
                  disabled={c.path === b.path}
                  onClick={() => props.onBrowse(c.path)}
                >
                  {c.label}
                </button>
              </span>
            ))}
          </nav>
          <ul class="remote-folder-list" data-testid="remote-folder-list">
            {b.folders === null && !b.error && <li class="muted">Loading…</li>}
            {b.folders !== null && b.folders.length === 0 && <li class="muted">No subfolders here.</li>}
            {(b.folders ?? []).map((f) => (
              <li key={f}>
                <button
                  type="button"
                  class="folder-item"
                  data-testid={`remote-folder-${f}`}
                  onClick={() => props.onBrowse(b.path ? `${b.path}/${f}` : f)}
                >
                  <span class="folder-icon" aria-hidden="true" />
                  {f}
                </button>
              </li>
            ))}
          </ul>
          {b.error && <p class="error" role="alert">{b.error}</p>}
          <div class="remote-foot">
            <span class="small">
              {props.remoteFolder === "" ? (
                <>
                  Sync with: <strong>{defaultRemoteText(props.provider)}</strong>
                </>
              ) : (
                <>
                  Sync with: <strong class="path">/{props.remoteFolder}</strong>
                </>
              )}
            </span>
            <button
              type="button"
              data-testid="use-remote-folder"
              onClick={() => props.onUseRemote(b.path)}
            >
              Use this folder
            </button>
          </div>
        </div>
      </div>
    </div>
  );
}
