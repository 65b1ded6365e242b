// The page's only door to the app: typed wrappers for every command and event of
// docs/app-ipc.md. Nothing else may call invoke/listen, so the contract lives in one file.
import { invoke as tauriInvoke, type InvokeArgs } from "@tauri-apps/api/core";
import { listen as tauriListen, type EventCallback, type UnlistenFn } from "@tauri-apps/api/event";

export type Direction = "upload" | "download";
export type Mode = "two-way" | "upload-only" | "download-only";
export type ConflictPolicy = "keep-local" | "keep-remote" | "keep-both" | "newer-wins";
export type Choice = "keep-local" | "keep-remote" | "keep-both";
export type Action =
  | "upload"
  | "download"
  | "delete-local"
  | "delete-remote"
  | "rename"
  | "conflict"
  | "create-folder";
export type ProviderId = "demo" | "local" | "webdav" | "s3" | "dropbox" | "gdrive" | "baidu";
export type ConnState =
  | "idle"
  | "syncing"
  | "paused"
  | "error"
  | "waiting-for-approval"
  | "outside-schedule";

export const MODES: Mode[] = ["two-way", "upload-only", "download-only"];
export const CONFLICT_POLICIES: ConflictPolicy[] = ["keep-local", "keep-remote", "keep-both", "newer-wins"];
export const ACTIONS: Action[] = [
  "upload",
  "download",
  "delete-local",
  "delete-remote",
  "rename",
  "conflict",
  "create-folder",
];

/** Opaque to the page: only ever passed back as received. */
export type Schedule = unknown;

export interface Settings {
  mode: Mode;
  no_delete: boolean;
  conflict: ConflictPolicy;
  exclude: string[];
  exclude_extensions: string[];
  max_size: number | null;
  skip_remote_folders: string[];
  poll_interval_secs: number;
  schedule: Schedule | null;
  bwlimit_up: number | null;
  bwlimit_down: number | null;
  transfers: number;
  remote_trash: boolean;
}

export interface ConnectionStatus {
  name: string;
  provider: string;
  state: ConnState;
  reason: string | null;
  local_root: string;
  remote: string;
  account: string;
  synced_files: number;
  skipped: number;
  conflicts: number;
  last_sync: number | null;
  paused: boolean;
  /** The provider refused the stored sign-in: `relink` mends it. */
  sign_in_needed: boolean;
}

export interface Transfer {
  connection: string;
  path: string;
  direction: Direction;
  done: number;
  total: number;
  bytes_per_sec: number;
}

export interface RecentFile {
  connection: string;
  path: string;
  action: Action;
  time_ms: number;
}

export interface Snapshot {
  status_line: string;
  icon: "idle" | "syncing" | "paused" | "error";
  connections: ConnectionStatus[];
  transfers: Transfer[];
  total_bytes_per_sec: number;
  recent: RecentFile[];
}

export interface ActivityRow {
  id: number;
  connection: string;
  time_ms: number;
  action: Action;
  path: string;
  bytes: number;
  detail: string | null;
}

export interface SkippedRow {
  connection: string;
  side: "local" | "remote";
  path: string;
  code: string;
  reason: string;
  since_ms: number;
}

export interface ConflictRow {
  id: number;
  connection: string;
  time_ms: number;
  path: string;
  copy_path: string | null;
  policy: string;
  loser: string;
  resolved: boolean;
}

export interface PendingPlan {
  deletes_local: number;
  deletes_remote: number;
  local_files: number;
  remote_files: number;
  paths: string[];
  ops: string[];
  approved: boolean;
}

export interface ConnectionDetail {
  status: ConnectionStatus;
  settings: Settings;
  schedule_text: string;
  pending_plan: PendingPlan | null;
}

export interface ProviderInfo {
  id: ProviderId;
  label: string;
  sign_in: "none" | "form" | "browser" | "device";
  available: boolean;
  why_unavailable: string | null;
}

export interface WizardForm {
  provider: ProviderId;
  name: string;
  local_root: string;
  remote_folder: string;
  settings: Settings;
  schedule_text: string;
  fields: Record<string, string>;
}

export interface FolderCheck {
  ok: boolean;
  reason: string | null;
}

export interface SignInResult {
  /** Opaque handle to the tokens the app holds; goes back as WizardForm.fields.session. */
  session: string;
  account: string;
}

export interface DeviceCode {
  user_code: string;
  verification_url: string;
  /** Seconds the code stays valid. */
  expires_in: number;
}

export interface SignInProgress {
  provider: ProviderId;
  url: string | null;
  device: DeviceCode | null;
}

export interface TestResult {
  account: string;
  remote: string;
}

/** One engine event as `cloudsync status --follow --json` prints it; only these keys are relied on. */
export interface EngineEvent {
  type:
    | "status"
    | "transfer-started"
    | "transfer-progress"
    | "transfer-finished"
    | "synced"
    | "skipped"
    | "conflict"
    | "error"
    | "round-finished";
  connection: string;
  [key: string]: unknown;
}

/** Commands reject with a plain string; anything else (a bug, a missing backend) is shown too. */
export function errorText(e: unknown): string {
  if (typeof e === "string") return e;
  if (e instanceof Error) return e.message;
  try {
    return JSON.stringify(e);
  } catch {
    return String(e);
  }
}

const NO_BACKEND = "CloudSync's engine is not reachable: this page only works inside the CloudSync app.";

function hasBackend(): boolean {
  return typeof window !== "undefined" && "__TAURI_INTERNALS__" in window;
}

// Opened outside the app (a plain browser on `npm run dev`), every call fails with one
// readable sentence instead of a TypeError from deep inside @tauri-apps/api.
function invoke<T>(cmd: string, args?: InvokeArgs): Promise<T> {
  return hasBackend() ? tauriInvoke<T>(cmd, args) : Promise.reject(NO_BACKEND);
}

function listen<T>(event: string, cb: EventCallback<T>): Promise<UnlistenFn> {
  return hasBackend() ? tauriListen<T>(event, cb) : Promise.resolve(() => {});
}

export const api = {
  snapshot: () => invoke<Snapshot>("snapshot"),
  connectionDetail: (name: string) => invoke<ConnectionDetail>("connection_detail", { name }),
  pause: (name: string | null) => invoke<string[]>("pause", { name }),
  resume: (name: string | null) => invoke<string[]>("resume", { name }),
  unlink: (name: string) => invoke<null>("unlink", { name }),
  activity: (name: string | null, action: Action | null, limit: number) =>
    invoke<ActivityRow[]>("activity", { name, action, limit }),
  skipped: (name: string) => invoke<SkippedRow[]>("skipped", { name }),
  why: (name: string, path: string) => invoke<string>("why", { name, path }),
  conflicts: (name: string) => invoke<ConflictRow[]>("conflicts", { name }),
  resolve: (name: string, path: string, choice: Choice) =>
    invoke<string>("resolve", { name, path, choice }),
  approve: (name: string) => invoke<PendingPlan>("approve", { name }),
  cancelPlan: (name: string) => invoke<null>("cancel_plan", { name }),
  saveSettings: (name: string, settings: Settings, scheduleText: string) =>
    invoke<ConnectionDetail>("save_settings", { name, settings, scheduleText }),
  openFolder: (path: string) => invoke<null>("open_folder", { path }),
  openWizard: () => invoke<null>("open_wizard"),
  closeWizard: () => invoke<null>("close_wizard"),
  pickFolder: () => invoke<string | null>("pick_folder"),
  checkLocalFolder: (path: string) => invoke<FolderCheck>("check_local_folder", { path }),
  providers: () => invoke<ProviderInfo[]>("providers"),
  signIn: (provider: ProviderId) => invoke<SignInResult>("sign_in", { provider }),
  cancelSignIn: () => invoke<null>("cancel_sign_in"),
  relink: (name: string) => invoke<null>("relink", { name }),
  testConnection: (form: WizardForm) => invoke<TestResult>("test_connection", { form }),
  remoteFolders: (form: WizardForm, path: string) => invoke<string[]>("remote_folders", { form, path }),
  addConnection: (form: WizardForm) => invoke<ConnectionStatus>("add_connection", { form }),
  connectionRemoteFolders: (name: string, path: string) =>
    invoke<string[]>("connection_remote_folders", { name, path }),
  autostart: () => invoke<boolean>("autostart"),
  setAutostart: (enabled: boolean) => invoke<boolean>("set_autostart", { enabled }),
};

export const events = {
  snapshot: (cb: (s: Snapshot) => void): Promise<UnlistenFn> =>
    listen<Snapshot>("snapshot", (e) => cb(e.payload)),
  engineEvent: (cb: (e: EngineEvent) => void): Promise<UnlistenFn> =>
    listen<EngineEvent>("engine-event", (e) => cb(e.payload)),
  connectionsChanged: (cb: () => void): Promise<UnlistenFn> =>
    listen<null>("connections-changed", () => cb()),
  signInProgress: (cb: (p: SignInProgress) => void): Promise<UnlistenFn> =>
    listen<SignInProgress>("sign-in-progress", (e) => cb(e.payload)),
};
