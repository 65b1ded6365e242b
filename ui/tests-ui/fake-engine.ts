// An in-test stand-in for src-tauri: answers every command of docs/app-ipc.md from plain
// data, records each call, and can be told to fail a command, so tests assert on what the
// page asked for as well as on what it shows.
import type {
  ActivityRow,
  ConflictRow,
  ConnectionDetail,
  ConnectionStatus,
  PendingPlan,
  ProviderInfo,
  Settings,
  SkippedRow,
  Snapshot,
  Transfer,
  WizardForm,
} from "../src/api";
import { defaultSettings } from "../src/logic/settingsForm";

export interface Call {
  cmd: string;
  args: Record<string, unknown>;
}

const T0 = Date.UTC(2026, 10, 25, 9, 30, 0);

/** The engine's defaults, as the page itself knows them. */
export const defaults = defaultSettings;

export function status(name: string, extra: Partial<ConnectionStatus> = {}): ConnectionStatus {
  return {
    name,
    provider: "demo",
    state: "idle",
    reason: null,
    local_root: `/home/me/${name}`,
    remote: `Demo cloud /${name}`,
    account: "demo@cloudsync.invalid",
    synced_files: 128,
    skipped: 2,
    conflicts: 2,
    last_sync: T0 - 5 * 60_000,
    paused: false,
    sign_in_needed: false,
    ...extra,
  };
}

export const PROVIDERS: ProviderInfo[] = [
  { id: "demo", label: "Demo cloud", sign_in: "none", available: true, why_unavailable: null },
  { id: "local", label: "Local folder", sign_in: "form", available: true, why_unavailable: null },
  { id: "webdav", label: "WebDAV", sign_in: "form", available: true, why_unavailable: null },
  { id: "s3", label: "S3", sign_in: "form", available: true, why_unavailable: null },
  {
    id: "dropbox",
    label: "Dropbox",
    sign_in: "browser",
    available: false,
    // The engine's own wording, long words included.
    why_unavailable:
      'Dropbox needs an app key: register one (README, "Registering your own app"), then set ' +
      "CLOUDSYNC_DROPBOX_APP_KEY or add it to /home/me/.config/cloudsync/config.json (the CLI also takes --app-key)",
  },
  { id: "gdrive", label: "Google Drive", sign_in: "browser", available: true, why_unavailable: null },
  { id: "baidu", label: "Baidu Netdisk", sign_in: "device", available: true, why_unavailable: null },
];

export class FakeEngine {
  calls: Call[] = [];
  /** Commands that reject next time with this text (each used once). */
  failNext: Record<string, string> = {};
  connections: ConnectionStatus[];
  settings: Record<string, Settings> = {};
  scheduleText: Record<string, string> = {};
  plans: Record<string, PendingPlan> = {};
  transfers: Transfer[] = [];
  activityRows: ActivityRow[] = [];
  skippedRows: SkippedRow[] = [];
  conflictRows: ConflictRow[] = [];
  /** Local folders check_local_folder calls non-empty, with the reason. */
  nonEmpty: Record<string, string> = { "/home/me/Documents": "the folder is not empty (14 entries)" };
  remoteTree: Record<string, string[]> = {
    "": ["Documents", "Music", "Photos"],
    Photos: ["2019", "2020"],
    Documents: ["Work"],
  };
  pickResult: string | null = "/home/me/Picked";
  autostartOn = false;
  /** The sign_in under way: it answers when the test calls finishSignIn / failSignIn. */
  private pendingSignIn: { resolve: (v: unknown) => void; reject: (e: string) => void } | null = null;

  get signInWaiting(): boolean {
    return this.pendingSignIn !== null;
  }

  finishSignIn(result: { session: string; account: string }) {
    if (!this.pendingSignIn) throw new Error("no sign_in waiting");
    this.pendingSignIn.resolve(result);
    this.pendingSignIn = null;
  }

  failSignIn(reason: string) {
    if (!this.pendingSignIn) throw new Error("no sign_in waiting");
    this.pendingSignIn.reject(reason);
    this.pendingSignIn = null;
  }

  constructor(opts: { empty?: boolean } = {}) {
    this.connections = opts.empty
      ? []
      : [
          status("Demo"),
          status("Work", {
            provider: "webdav",
            state: "waiting-for-approval",
            reason: "the plan would delete 40 of 60 remote files",
            remote: "WebDAV https://dav.example.com/Work",
            account: "me@dav.example.com",
            conflicts: 0,
            skipped: 0,
          }),
          status("Photos", { provider: "s3", state: "paused", paused: true, remote: "S3 photos-bucket/", conflicts: 0 }),
        ];
    for (const c of this.connections) {
      this.settings[c.name] = defaults();
      this.scheduleText[c.name] = "always";
    }
    this.plans.Work = {
      deletes_local: 0,
      deletes_remote: 40,
      local_files: 20,
      remote_files: 60,
      paths: Array.from({ length: 12 }, (_, i) => `Reports/q${i + 1}.xlsx`),
      ops: Array.from({ length: 40 }, (_, i) => `delete-remote Reports/file${i}.xlsx`),
      approved: false,
    };
    if (!opts.empty) {
      this.transfers = [
        { connection: "Demo", path: "Videos/holiday.mp4", direction: "upload", done: 30 << 20, total: 120 << 20, bytes_per_sec: 2 << 20 },
        { connection: "Demo", path: "Docs/report.pdf", direction: "download", done: 100 << 10, total: 400 << 10, bytes_per_sec: 300 << 10 },
        { connection: "Photos", path: "x.jpg", direction: "upload", done: 1, total: 2, bytes_per_sec: 1000 },
      ];
      const acts: Array<[ActivityRow["action"], string, number, string | null]> = [
        ["upload", "Docs/Report.pdf", 420_000, null],
        ["download", "Photos/cat.jpg", 2_100_000, null],
        ["delete-local", "Old/notes.txt", 0, "moved to .cloudsync-trash/2026-11-25"],
        ["conflict", "Docs/plan.md", 1200, "remote version kept as plan (conflicted copy 2026-11-25 093000 from laptop).md"],
        ["create-folder", "Photos/2026", 0, null],
        ["upload", "Photos/dog.jpg", 1_900_000, null],
      ];
      this.activityRows = acts.map(([action, path, bytes, detail], i) => ({
        id: 100 - i,
        connection: "Demo",
        time_ms: T0 - i * 60_000,
        action,
        path,
        bytes,
        detail,
      }));
      this.skippedRows = [
        { connection: "Demo", side: "local", path: "Thumbs.db", code: "blacklisted-name", reason: "the name is on the list of system files that are never synced (thumbs.db)", since_ms: T0 },
        { connection: "Demo", side: "remote", path: "Movies/huge.iso", code: "too-large", reason: "the file is larger than 10 GiB", since_ms: T0 },
      ];
      this.conflictRows = [
        { id: 1, connection: "Demo", time_ms: T0, path: "Docs/plan.md", copy_path: "Docs/plan (conflicted copy 2026-11-25 093000 from laptop).md", policy: "keep-local", loser: "remote", resolved: false },
        { id: 2, connection: "Demo", time_ms: T0 - 3600_000, path: "budget.xlsx", copy_path: null, policy: "keep-local", loser: "remote (kept as a revision)", resolved: false },
      ];
    }
  }

  snapshot(): Snapshot {
    return {
      status_line: "Up to date",
      icon: "idle",
      connections: structuredClone(this.connections),
      transfers: structuredClone(this.transfers),
      total_bytes_per_sec: this.transfers.reduce((s, t) => s + t.bytes_per_sec, 0),
      recent: [],
    };
  }

  callsOf(cmd: string): Array<Record<string, unknown>> {
    return this.calls.filter((c) => c.cmd === cmd).map((c) => c.args);
  }

  private conn(name: unknown): ConnectionStatus {
    const c = this.connections.find((x) => x.name === name);
    if (!c) throw `no connection named ${String(name)}`;
    return c;
  }

  private detail(name: string): ConnectionDetail {
    const c = this.conn(name);
    return {
      status: structuredClone(c),
      settings: structuredClone(this.settings[name]),
      schedule_text: this.scheduleText[name],
      pending_plan: c.state === "waiting-for-approval" ? structuredClone(this.plans[name] ?? null) : null,
    };
  }

  /** The IPC entry point; a thrown string is the command's rejection. */
  handle(cmd: string, args: Record<string, unknown>): unknown | Promise<unknown> {
    this.calls.push({ cmd, args: structuredClone(args) });
    if (cmd in this.failNext) {
      const why = this.failNext[cmd];
      delete this.failNext[cmd];
      throw why;
    }
    const name = args.name as string;
    switch (cmd) {
      case "snapshot":
        return this.snapshot();
      case "connection_detail":
        return this.detail(name);
      case "pause":
      case "resume": {
        const targets = name === null ? this.connections : [this.conn(name)];
        for (const c of targets) {
          c.paused = cmd === "pause";
          c.state = c.paused ? "paused" : "idle";
        }
        return targets.map((c) => c.name);
      }
      case "unlink":
        this.conn(name);
        this.connections = this.connections.filter((c) => c.name !== name);
        return null;
      case "activity":
        return this.activityRows
          .filter((r) => (name === null || r.connection === name) && (!args.action || r.action === args.action))
          .slice(0, args.limit as number);
      case "skipped":
        return this.skippedRows.filter((r) => r.connection === name);
      case "why":
        return `${args.path as string}: the name starts with "~", which the product rules never sync`;
      case "conflicts":
        return this.conflictRows.filter((r) => r.connection === name);
      case "resolve": {
        const row = this.conflictRows.find((r) => r.connection === name && r.path === args.path);
        if (!row) throw `no conflict at ${String(args.path)}`;
        row.resolved = true;
        return `kept the ${String(args.choice).replace("keep-", "")} version of ${row.path}`;
      }
      case "approve": {
        const c = this.conn(name);
        const plan = { ...this.plans[name], approved: true };
        c.state = "syncing";
        c.reason = null;
        return plan;
      }
      case "cancel_plan": {
        const c = this.conn(name);
        c.state = "paused";
        c.paused = true;
        c.reason = null;
        return null;
      }
      case "save_settings": {
        const text = args.scheduleText as string;
        if (!/^(always|never|[a-z*,-]+ [\d*-]+(; *[a-z*,-]+ [\d*-]+)*)$/i.test(text)) {
          throw `--schedule "${text}": schedule entry "${text}" needs days and hours, like \`mon-fri 9-17\``;
        }
        this.settings[name] = structuredClone(args.settings as Settings);
        this.scheduleText[name] = text;
        return this.detail(name);
      }
      case "open_folder":
      case "open_wizard":
      case "close_wizard":
        return null;
      case "pick_folder":
        return this.pickResult;
      case "check_local_folder": {
        const p = args.path as string;
        if (this.nonEmpty[p]) return { ok: false, reason: this.nonEmpty[p] };
        return { ok: true, reason: null };
      }
      case "providers":
        return PROVIDERS;
      case "sign_in": {
        if (this.pendingSignIn) throw "a sign-in is already in progress";
        return new Promise((resolve, reject) => (this.pendingSignIn = { resolve, reject }));
      }
      case "relink": {
        // Answers like sign_in (finishSignIn / failSignIn); success clears the state as
        // the engine's `relinked` does.
        if (this.pendingSignIn) throw "a sign-in is already in progress";
        const c = this.conn(name);
        return new Promise((resolve, reject) => {
          this.pendingSignIn = {
            resolve: () => {
              Object.assign(c, { state: "idle", reason: null, sign_in_needed: false });
              resolve(null);
            },
            reject,
          };
        });
      }
      case "cancel_sign_in":
        this.pendingSignIn?.reject("sign-in cancelled");
        this.pendingSignIn = null;
        return null;
      case "test_connection": {
        const form = args.form as WizardForm;
        if (form.fields.password === "wrong") throw "the server refused the user name or password (401)";
        return { account: `${form.fields.user ?? "me"}@dav.example.com`, remote: `WebDAV ${form.fields.url ?? ""}` };
      }
      case "remote_folders":
        return this.remoteTree[args.path as string] ?? [];
      case "connection_remote_folders":
        return this.remoteTree[args.path as string] ?? [];
      case "autostart":
        return this.autostartOn;
      case "set_autostart":
        this.autostartOn = args.enabled as boolean;
        return this.autostartOn;
      case "add_connection": {
        const form = args.form as WizardForm;
        if (this.connections.some((c) => c.name === form.name)) throw `a connection named ${form.name} exists already`;
        const c = status(form.name, { provider: form.provider, local_root: form.local_root, state: "syncing", last_sync: null });
        this.connections.push(c);
        this.settings[form.name] = form.settings;
        this.scheduleText[form.name] = form.schedule_text;
        return c;
      }
      default:
        throw `unknown command ${cmd}`;
    }
  }
}
