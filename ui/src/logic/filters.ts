// Pure list filtering for the Activity tab and the "which engine events concern us" test,
// kept apart from the views so it can be unit-tested.
import type { Action, ActivityRow, EngineEvent, Transfer } from "../api";

export interface ActivityFilter {
  action: Action | "";
  text: string;
}

/** Rows of the chosen action whose path or detail contains the text, ignoring case. */
export function filterActivity(rows: ActivityRow[], f: ActivityFilter): ActivityRow[] {
  const needle = f.text.trim().toLocaleLowerCase();
  return rows.filter((r) => {
    if (f.action && r.action !== f.action) return false;
    if (!needle) return true;
    return (
      r.path.toLocaleLowerCase().includes(needle) ||
      (r.detail ?? "").toLocaleLowerCase().includes(needle)
    );
  });
}

const ACTIVITY_EVENTS = new Set<EngineEvent["type"]>(["synced", "conflict", "round-finished"]);

/** Whether an engine event may have added activity rows for this connection. */
export function changesActivity(e: EngineEvent, connection: string): boolean {
  return e.connection === connection && ACTIVITY_EVENTS.has(e.type);
}

/** Whether an engine event may have changed this connection's conflict or skip lists. */
export function changesLists(e: EngineEvent, connection: string): boolean {
  return (
    e.connection === connection &&
    (e.type === "conflict" || e.type === "skipped" || e.type === "round-finished")
  );
}

export function transfersOf(all: Transfer[], connection: string): Transfer[] {
  return all.filter((t) => t.connection === connection);
}

export function totalSpeed(ts: Transfer[]): number {
  return ts.reduce((sum, t) => sum + (t.bytes_per_sec > 0 ? t.bytes_per_sec : 0), 0);
}
