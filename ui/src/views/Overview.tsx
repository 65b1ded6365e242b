// The Overview tab: what a connection is, how it is doing, and Pause / Resume / Unlink.
import { useEffect, useState } from "preact/hooks";
import { api, type ConnectionStatus } from "../api";
import { formatDateTime, formatRelative, providerLabel } from "../format";
import { attempt, ConfirmDialog, ErrorText, StateDot } from "./common";

export function StatusText(props: { status: ConnectionStatus }) {
  const s = props.status;
  // The state word as the CLI prints it, spaced for reading; a plan waiting for approval
  // has its own panel right below, so its reason is not repeated here. A refused sign-in
  // has its panel too: a short word here, the engine's whole reason on hover.
  const reason =
    s.state === "waiting-for-approval" ? null : s.sign_in_needed ? "the provider refused the sign-in" : s.reason;
  return (
    <p
      class={`status-text state-${s.state}`}
      data-testid="status-text"
      title={s.sign_in_needed && s.reason ? s.reason : undefined}
    >
      <StateDot state={s.state} />
      <strong>{s.state.replace(/-/g, " ")}</strong>
      {reason ? <span class="reason"> — {reason}</span> : null}
    </p>
  );
}

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return now;
}

export function Overview(props: { status: ConnectionStatus; onChanged: () => void; onUnlinked: () => void }) {
  const s = props.status;
  const now = useNow(30_000);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [unlinkError, setUnlinkError] = useState<string | null>(null);

  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    const r = await attempt(fn, setError);
    setBusy(false);
    if (r !== undefined) props.onChanged();
  };

  const unlink = async () => {
    setBusy(true);
    const r = await attempt(() => api.unlink(s.name), setUnlinkError);
    setBusy(false);
    if (r !== undefined) {
      setConfirming(false);
      props.onUnlinked();
    }
  };

  return (
    <section class="overview">
      <dl class="facts">
        <dt>Last sync</dt>
        <dd title={s.last_sync === null ? undefined : formatDateTime(s.last_sync)}>
          {formatRelative(s.last_sync, now)}
          {s.last_sync !== null && <span class="muted"> ({formatDateTime(s.last_sync)})</span>}
        </dd>
        <dt>Provider</dt>
        <dd>{providerLabel(s.provider)}</dd>
        <dt>Account</dt>
        <dd>{s.account || <span class="muted">—</span>}</dd>
        <dt>Local folder</dt>
        <dd class="with-action">
          <span class="path">{s.local_root}</span>
          <button type="button" class="small" data-testid="open-folder" onClick={() => run(() => api.openFolder(s.local_root))}>
            Open
          </button>
        </dd>
        <dt>Remote</dt>
        <dd class="path">{s.remote}</dd>
      </dl>
      <ul class="counts">
        <li>
          <span class="count">{s.synced_files}</span>
          <span class="count-label">files in sync</span>
        </li>
        <li>
          <span class="count">{s.skipped}</span>
          <span class="count-label">skipped</span>
        </li>
        <li class={s.conflicts > 0 ? "attention" : undefined}>
          <span class="count">{s.conflicts}</span>
          <span class="count-label">conflicts</span>
        </li>
      </ul>
      <div class="button-row">
        <button type="button" data-testid="pause-button" disabled={busy || s.paused} onClick={() => run(() => api.pause(s.name))}>
          Pause
        </button>
        <button type="button" data-testid="resume-button" disabled={busy || !s.paused} onClick={() => run(() => api.resume(s.name))}>
          Resume
        </button>
        <span class="spacer" />
        <button type="button" class="danger-outline" data-testid="unlink-button" disabled={busy} onClick={() => setConfirming(true)}>
          Unlink…
        </button>
      </div>
      <ErrorText error={error} testId="overview-error" />
      {confirming && (
        <ConfirmDialog
          title={`Unlink “${s.name}”?`}
          confirmLabel="Unlink"
          confirmTestId="confirm-unlink"
          cancelTestId="cancel-unlink"
          danger
          busy={busy}
          error={unlinkError}
          onConfirm={unlink}
          onCancel={() => {
            setConfirming(false);
            setUnlinkError(null);
          }}
        >
          <p>
            CloudSync stops syncing this connection and forgets its settings. Your files stay on both sides:
            nothing is deleted in <span class="path">{s.local_root}</span> or on the remote ({s.remote}).
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
