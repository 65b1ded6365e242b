// The wizard's last page: the connection exists; closing returns to the main window.
import type { ConnectionStatus } from "../../api";

export function DoneStep(props: { created: ConnectionStatus; onClose: () => void; closeError: string | null }) {
  return (
    <div class="done-step" data-testid="wizard-done">
      <div class="done-mark" aria-hidden="true">✓</div>
      <h2>Done</h2>
      <p>
        The connection <strong>{props.created.name}</strong> is set up and its first sync has started. You can follow it
        in the main window.
      </p>
      <button type="button" class="primary" data-testid="wizard-close" onClick={props.onClose}>
        Close
      </button>
      {props.closeError && <p class="error" role="alert">{props.closeError}</p>}
    </div>
  );
}
