// The Activity tab: the connection's log, filtered by action and text, refetched when the
// engine reports something that adds rows.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ACTIONS, api, errorText, type Action, type ActivityRow } from "../api";
import { actionLabel, formatBytes, formatDateTime } from "../format";
import { filterActivity } from "../logic/filters";
import { ErrorText } from "./common";

const LIMIT = 500;

export function Activity(props: { name: string; refreshTick: number }) {
  const [rows, setRows] = useState<ActivityRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [action, setAction] = useState<Action | "">("");
  const [text, setText] = useState("");
  const seq = useRef(0);

  useEffect(() => {
    const mine = ++seq.current;
    api
      .activity(props.name, action || null, LIMIT)
      .then((r) => {
        // A slower answer for an older filter must not overwrite a newer one.
        if (mine === seq.current) {
          setRows(r);
          setError(null);
        }
      })
      .catch((e) => mine === seq.current && setError(errorText(e)));
  }, [props.name, action, props.refreshTick]);

  // The action filter is also applied here, so the view stays right while a refetch is out.
  const shown = useMemo(() => filterActivity(rows ?? [], { action, text }), [rows, action, text]);

  return (
    <section class="activity">
      <div class="toolbar">
        <select
          data-testid="activity-filter-action"
          aria-label="Action"
          value={action}
          onChange={(e) => setAction(e.currentTarget.value as Action | "")}
        >
          <option value="">All actions</option>
          {ACTIONS.map((a) => (
            <option key={a} value={a}>
              {actionLabel(a)}
            </option>
          ))}
        </select>
        <input
          type="search"
          data-testid="activity-filter-text"
          aria-label="Filter by path or detail"
          placeholder="Filter by path or detail"
          value={text}
          onInput={(e) => setText(e.currentTarget.value)}
        />
        <span class="muted small">
          {rows === null ? "" : `${shown.length} of ${rows.length}`}
        </span>
      </div>
      <ErrorText error={error} testId="activity-error" />
      {rows !== null && shown.length === 0 ? (
        <p class="placeholder">{rows.length === 0 ? "Nothing has happened yet." : "No activity matches the filter."}</p>
      ) : (
        <div class="table-wrap">
          <table class="table">
            <thead>
              <tr>
                <th>Time</th>
                <th>Action</th>
                <th>Path</th>
                <th class="num">Size</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <tr key={r.id} data-testid="activity-row">
                  <td class="nowrap muted">{formatDateTime(r.time_ms)}</td>
                  <td class="nowrap">
                    {/* The raw action word, as the CLI log prints it; the label is the tooltip. */}
                    <span class={`tag action-${r.action}`} title={actionLabel(r.action)}>
                      {r.action}
                    </span>
                  </td>
                  <td class="path">{r.path}</td>
                  <td class="num nowrap">{r.bytes > 0 ? formatBytes(r.bytes) : ""}</td>
                  <td class="muted">{r.detail ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
