// Small building blocks every view shares: inline error text, the state dot, an in-page
// confirmation dialog (window.confirm would block the webview and cannot be styled or tested).
import type { ComponentChildren } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { errorText, type ConnState } from "../api";

export function ErrorText(props: { error: string | null; testId?: string }) {
  if (!props.error) return null;
  return (
    <p class="error" role="alert" data-testid={props.testId}>
      {props.error}
    </p>
  );
}

export function StateDot(props: { state: ConnState }) {
  return <span class={`dot dot-${props.state}`} aria-hidden="true" />;
}

export function ConfirmDialog(props: {
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  confirmTestId: string;
  cancelTestId: string;
  busy?: boolean;
  error?: string | null;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  // Focus the harmless choice so Enter never confirms by accident; Escape backs out.
  useEffect(() => {
    cancelRef.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") props.onCancel();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  return (
    <div class="overlay">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-title">
        <h2 id="dialog-title">{props.title}</h2>
        <div class="dialog-body">{props.children}</div>
        <ErrorText error={props.error ?? null} />
        <div class="button-row end">
          <button ref={cancelRef} type="button" data-testid={props.cancelTestId} onClick={props.onCancel}>
            Cancel
          </button>
          <button
            type="button"
            class={props.danger ? "danger" : "primary"}
            data-testid={props.confirmTestId}
            disabled={props.busy}
            onClick={props.onConfirm}
          >
            {props.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  );
}

/** Runs fn(), returning its rejection text; keeps try/catch noise out of the views. */
export async function attempt<T>(
  fn: () => Promise<T>,
  setError: (e: string | null) => void,
): Promise<T | undefined> {
  setError(null);
  try {
    return await fn();
  } catch (e) {
    setError(errorText(e));
    return undefined;
  }
}
