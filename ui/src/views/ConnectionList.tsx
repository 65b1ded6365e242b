// The left column: every connection with its provider and state, and the way to add one.
import { useEffect, useState } from "preact/hooks";
import { api, errorText, type ConnectionStatus } from "../api";
import { providerLabel } from "../format";
import { ErrorText, StateDot } from "./common";

export function ConnectionList(props: {
  statusLine: string | null;
  connections: ConnectionStatus[];
  selected: string | null;
  onSelect: (name: string) => void;
  onAdd: () => void;
  addError: string | null;
}) {
  return (
    <nav class="sidebar" aria-label="Connections">
      <h1 class="app-title">CloudSync</h1>
      <ul class="conn-list">
        {props.connections.map((c) => (
          <li key={c.name}>
            <button
              type="button"
              class={`conn-item${c.name === props.selected ? " selected" : ""}`}
              aria-current={c.name === props.selected ? "true" : undefined}
              data-testid={`conn-item-${c.name}`}
              onClick={() => props.onSelect(c.name)}
              title={c.reason ?? c.state}
            >
              <StateDot state={c.state} />
              <span class="conn-text">
                <span class="conn-name">{c.name}</span>
                <span class="conn-provider">{providerLabel(c.provider)}</span>
              </span>
            </button>
          </li>
        ))}
      </ul>
      <div class="sidebar-foot">
        {props.statusLine && (
          <p class="status-line muted small" data-testid="status-line" title={props.statusLine}>
            {props.statusLine}
          </p>
        )}
        <button type="button" class="primary wide" data-testid="add-connection" onClick={props.onAdd}>
          + Add connection
        </button>
        <ErrorText error={props.addError} />
        <Autostart />
      </div>
    </nav>
  );
}

/** "Start CloudSync at login": the app's own setting, kept by the app (not the engine). */
function Autostart() {
  const [on, setOn] = useState<boolean | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api.autostart().then(setOn, (e) => setError(errorText(e)));
  }, []);
  return (
    <>
      <label class="check small">
        <input
          type="checkbox"
          data-testid="autostart"
          checked={on === true}
          disabled={on === null}
          onChange={(e) => {
            const want = e.currentTarget.checked;
            setError(null);
            api.setAutostart(want).then(setOn, (err) => setError(errorText(err)));
          }}
        />
        <span>Start CloudSync at login</span>
      </label>
      <ErrorText error={error} />
    </>
  );
}
