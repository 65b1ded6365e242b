// The Conflicts tab: each conflict the engine settled by policy, and buttons to settle it
// differently with `resolve`.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type Choice, type ConflictRow } from "../api";
import { formatDateTime } from "../format";
import { ErrorText } from "./common";

const CHOICES: Array<{ choice: Choice; label: string; title: string }> = [
  { choice: "keep-local", label: "Keep local", title: "The local version wins on both sides" },
  { choice: "keep-remote", label: "Keep remote", title: "The remote version wins on both sides" },
  { choice: "keep-both", label: "Keep both", title: "Keep both versions under two names" },
];

interface RowNote {
  text: string;
  error: boolean;
}

export function Conflicts(props: { name: string; refreshTick: number; onChanged: () => void }) {
  const [rows, setRows] = useState<ConflictRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<number | null>(null);
  const [notes, setNotes] = useState<Record<number, RowNote>>({});
  const [reload, setReload] = useState(0);

  useEffect(() => {
    let live = true;
    api
      .conflicts(props.name)
      .then((r) => live && (setRows(r), setError(null)))
      .catch((e) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [props.name, props.refreshTick, reload]);

  const resolve = async (row: ConflictRow, choice: Choice) => {
    setBusy(row.id);
    try {
      const done = await api.resolve(props.name, row.path, choice);
      setNotes((n) => ({ ...n, [row.id]: { text: done, error: false } }));
      // Marked at once; the refetch confirms it from the engine.
      setRows((rs) => rs && rs.map((r) => (r.id === row.id ? { ...r, resolved: true } : r)));
      setReload((x) => x + 1);
      props.onChanged();
    } catch (e) {
      setNotes((n) => ({ ...n, [row.id]: { text: errorText(e), error: true } }));
    } finally {
      setBusy(null);
    }
  };

  const open = (rows ?? []).filter((r) => !r.resolved).length;

  return (
    <section class="conflicts">
      <ErrorText error={error} testId="conflicts-error" />
      {rows !== null && rows.length === 0 ? (
        <p class="placeholder">No conflicts. When a file changes on both sides, it shows up here.</p>
      ) : (
        <>
          {rows !== null && (
            <p class="muted small">
              {open} open, {rows.length - open} resolved
            </p>
          )}
          <ul class="conflict-list">
            {(rows ?? []).map((r) => {
              const note = notes[r.id];
              return (
                <li key={r.id} class={`conflict-row${r.resolved ? " resolved" : ""}`} data-testid="conflict-row">
                  <div class="conflict-main">
                    <span class="path conflict-path">{r.path}</span>
                    {r.resolved && <span class="tag ok">resolved</span>}
                    <dl class="conflict-facts">
                      <dt>When</dt>
                      <dd>{formatDateTime(r.time_ms)}</dd>
                      <dt>Policy</dt>
                      <dd>{r.policy}</dd>
                      <dt>Set aside</dt>
                      <dd>{r.loser}</dd>
                      {r.copy_path && (
                        <>
                          <dt>Copy</dt>
                          <dd class="path">{r.copy_path}</dd>
                        </>
                      )}
                    </dl>
                  </div>
                  <div class="conflict-actions">
                    {CHOICES.map((c) => (
                      <button
                        key={c.choice}
                        type="button"
                        class="small"
                        title={c.title}
                        data-testid={`resolve-${c.choice}`}
                        disabled={busy !== null || r.resolved}
                        onClick={() => resolve(r, c.choice)}
                      >
                        {c.label}
                      </button>
                    ))}
                  </div>
                  {note && (
                    <p class={note.error ? "error row-note" : "muted row-note"} role={note.error ? "alert" : undefined}>
                      {note.text}
                    </p>
                  )}
                </li>
              );
            })}
          </ul>
        </>
      )}
    </section>
  );
}
