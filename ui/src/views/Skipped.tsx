// The Skipped tab: what is not synced and the rule that says why, plus "why isn't this
// path synced?" for any path.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type SkippedRow } from "../api";
import { formatDateTime } from "../format";
import { attempt, ErrorText } from "./common";

export function Skipped(props: { name: string; refreshTick: number }) {
  const [rows, setRows] = useState<SkippedRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [path, setPath] = useState("");
  const [answer, setAnswer] = useState<{ path: string; text: string } | null>(null);
  const [whyError, setWhyError] = useState<string | null>(null);
  const [asking, setAsking] = useState(false);

  useEffect(() => {
    let live = true;
    api
      .skipped(props.name)
      .then((r) => live && (setRows(r), setError(null)))
      .catch((e) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [props.name, props.refreshTick]);

  const ask = async (e?: Event) => {
    e?.preventDefault();
    const p = path.trim();
    if (!p) return;
    setAsking(true);
    const text = await attempt(() => api.why(props.name, p), setWhyError);
    setAsking(false);
    setAnswer(text === undefined ? null : { path: p, text });
  };

  return (
    <section class="skipped">
      <form class="why-box" onSubmit={ask}>
        <label class="field grow">
          <span class="label">Why isn't a file synced? Type its path in the sync folder:</span>
          <input
            type="text"
            data-testid="why-input"
            placeholder="Documents/report.docx"
            value={path}
            onInput={(e) => setPath(e.currentTarget.value)}
          />
        </label>
        <button type="submit" data-testid="why-button" disabled={asking || !path.trim()}>
          Why?
        </button>
      </form>
      {answer && (
        <p class="why-answer" data-testid="why-answer" aria-live="polite">
          <span class="path">{answer.path}</span>: {answer.text}
        </p>
      )}
      <ErrorText error={whyError} testId="why-error" />
      <ErrorText error={error} testId="skipped-error" />
      {rows !== null && rows.length === 0 ? (
        <p class="placeholder">Nothing is skipped: every file follows the rules.</p>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>Path</th>
                <th>Side</th>
                <th>Why it is not synced</th>
              </tr>
            </thead>
            <tbody>
              {(rows ?? []).map((r) => (
                <tr key={`${r.side}:${r.path}`} data-testid="skipped-row">
                  <td class="path">{r.path}</td>
                  <td class="nowrap">
                    <span class={`tag side-${r.side}`}>{r.side}</span>
                  </td>
                  <td>
                    {r.reason}
                    <span class="muted small" title={`since ${formatDateTime(r.since_ms)}`}>
                      {" "}
                      ({r.code})
                    </span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
