// Shown above the tabs while the engine holds back a plan that would delete many files:
// what it would do, with Approve and Cancel.
import { useState } from "preact/hooks";
import { api, type PendingPlan } from "../api";
import { plural } from "../format";
import { attempt, ErrorText } from "./common";

const FIRST_PATHS = 8;

export function ApprovalPanel(props: {
  name: string;
  reason: string | null;
  plan: PendingPlan | null;
  onChanged: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const p = props.plan;

  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    const r = await attempt(fn, setError);
    setBusy(false);
    if (r !== undefined) props.onChanged();
  };

  return (
    <section class="approval-panel" data-testid="approval-panel" aria-labelledby="approval-title">
      <h2 id="approval-title">This sync waits for your approval</h2>
      <p>
        {props.reason ??
          "The next sync would delete an unusually large part of your files, so CloudSync stopped to ask first."}
      </p>
      {p ? (
        <>
          <ul class="plan-counts">
            <li>
              <strong>{p.deletes_local}</strong> of {plural(p.local_files, "local file")} would be deleted on this computer
            </li>
            <li>
              <strong>{p.deletes_remote}</strong> of {plural(p.remote_files, "remote file")} would be deleted on the remote
            </li>
          </ul>
          {p.paths.length > 0 && (
            <>
              <p class="small muted">For example:</p>
              <ul class="plan-paths">
                {p.paths.slice(0, FIRST_PATHS).map((x) => (
                  <li key={x} class="path">
                    {x}
                  </li>
                ))}
                {p.paths.length > FIRST_PATHS && <li class="muted">and {p.paths.length - FIRST_PATHS} more</li>}
              </ul>
            </>
          )}
          {p.ops.length > 0 && (
            <details class="plan-ops">
              <summary>All {plural(p.ops.length, "planned operation")}</summary>
              <ol>
                {p.ops.map((op, i) => (
                  <li key={i} class="path">
                    {op}
                  </li>
                ))}
              </ol>
            </details>
          )}
        </>
      ) : (
        <p class="muted">Loading the plan…</p>
      )}
      <div class="button-row">
        <button type="button" class="danger" data-testid="approve-button" disabled={busy} onClick={() => run(() => api.approve(props.name))}>
          Approve and sync
        </button>
        <button type="button" data-testid="cancel-plan-button" disabled={busy} onClick={() => run(() => api.cancelPlan(props.name))}>
          Cancel (pause, delete nothing)
        </button>
      </div>
      <ErrorText error={error} testId="approval-error" />
    </section>
  );
}
