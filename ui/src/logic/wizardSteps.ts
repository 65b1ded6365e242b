// The wizard's steps, their order, and the pure "may the user go on?" rules, so the step
// components stay presentational and the rules are unit-tested.
import type { FolderCheck, ProviderId, ProviderInfo, Settings, WizardForm } from "../api";

export type StepId = "provider" | "signin" | "folders" | "options" | "summary" | "done";
export const STEPS: StepId[] = ["provider", "signin", "folders", "options", "summary", "done"];
export const STEP_TITLES: Record<StepId, string> = {
  provider: "Provider",
  signin: "Sign in",
  folders: "Folders",
  options: "Options",
  summary: "Summary",
  done: "Done",
};

export interface FieldSpec {
  key: string;
  label: string;
  required: boolean;
  secret?: boolean;
  placeholder?: string;
  /** Offer the native folder picker next to the input. */
  folder?: boolean;
  hint?: string;
  /** Filled by the browser / device sign-in, never typed: not shown as an input. */
  fromSignIn?: boolean;
}

// The opaque handle sign_in returns; the tokens themselves never reach the page.
const SESSION: FieldSpec[] = [{ key: "session", label: "Sign-in", required: true, fromSignIn: true }];

/** The sign-in form fields per provider, keys exactly as WizardForm.fields in the contract. */
export const SIGN_IN_FIELDS: Partial<Record<ProviderId, FieldSpec[]>> = {
  local: [
    { key: "path", label: "Folder to sync with", required: true, folder: true, placeholder: "/mnt/backup/cloud", hint: "Another folder on this computer or a mounted share; it plays the cloud." },
  ],
  webdav: [
    { key: "url", label: "Server URL", required: true, placeholder: "https://dav.example.com/remote.php/dav/files/me/" },
    { key: "user", label: "User name", required: true },
    { key: "password", label: "Password", required: true, secret: true },
    { key: "ca_file", label: "CA certificate file (optional)", required: false, placeholder: "/etc/ssl/my-ca.pem", hint: "Only for a server whose certificate is signed by your own authority." },
  ],
  s3: [
    { key: "endpoint", label: "Endpoint URL", required: true, placeholder: "https://s3.eu-central-1.amazonaws.com" },
    { key: "bucket", label: "Bucket", required: true },
    { key: "prefix", label: "Prefix (optional)", required: false, placeholder: "backups/laptop" },
    { key: "region", label: "Region (optional)", required: false, placeholder: "us-east-1" },
    { key: "access_key", label: "Access key ID", required: true },
    { key: "secret_key", label: "Secret access key", required: true, secret: true },
  ],
  dropbox: SESSION,
  gdrive: SESSION,
  baidu: SESSION,
};

export function signsInOutside(p: ProviderInfo | null): boolean {
  return p?.sign_in === "browser" || p?.sign_in === "device";
}

/** The fields of every provider without a session: a session belongs to the provider it
 *  was made for, and choosing another one must not carry it along. */
export function withoutSessions<T extends Record<string, string>>(
  all: Partial<Record<ProviderId, T>>,
): Partial<Record<ProviderId, T>> {
  const out: Partial<Record<ProviderId, T>> = {};
  for (const [id, fields] of Object.entries(all) as Array<[ProviderId, T]>) {
    const { session: _dropped, ...rest } = fields;
    out[id] = rest as T;
  }
  return out;
}

const SHORT_NAMES: Record<ProviderId, string> = {
  demo: "Demo",
  local: "Local",
  webdav: "WebDAV",
  s3: "S3",
  dropbox: "Dropbox",
  gdrive: "Google Drive",
  baidu: "Baidu",
};

/** "Demo", or "Demo 2" when a connection of that name exists already. */
export function defaultName(provider: ProviderId, existing: string[]): string {
  const base = SHORT_NAMES[provider] ?? provider;
  if (!existing.includes(base)) return base;
  for (let i = 2; ; i++) {
    const candidate = `${base} ${i}`;
    if (!existing.includes(candidate)) return candidate;
  }
}

/** The fields to send: trimmed, optional empties left out (the contract marks them `?`). */
export function cleanFields(provider: ProviderId, raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of SIGN_IN_FIELDS[provider] ?? []) {
    // Passwords may legitimately start or end with spaces.
    const v = f.secret ? (raw[f.key] ?? "") : (raw[f.key] ?? "").trim();
    if (v !== "" || f.required) out[f.key] = v;
  }
  return out;
}

export interface WizardState {
  provider: ProviderInfo | null;
  fields: Record<string, string>;
  name: string;
  localRoot: string;
  /** The check_local_folder answer and the path it was for (answers can arrive late). */
  localCheck: { path: string; result: FolderCheck } | null;
  remoteFolder: string;
  settingsOk: boolean;
  /** A browser / device sign-in is under way. */
  signingIn: boolean;
}

/** Why the user may not leave this step yet, or null when Next may be pressed. */
export function blockedReason(step: StepId, s: WizardState): string | null {
  switch (step) {
    case "provider":
      if (!s.provider) return "Choose where to sync with.";
      if (!s.provider.available) return s.provider.why_unavailable ?? "This provider is not available.";
      return null;
    case "signin": {
      if (!s.provider) return "Choose a provider first.";
      if (signsInOutside(s.provider)) {
        if (s.signingIn) return "Waiting for the sign-in to finish (Cancel stops it).";
        if ((s.fields.session ?? "") === "") return `Sign in with ${s.provider.label} first.`;
        return null;
      }
      const missing = (SIGN_IN_FIELDS[s.provider.id] ?? []).filter(
        (f) => f.required && (s.fields[f.key] ?? "").trim() === "",
      );
      return missing.length ? `Fill in: ${missing.map((f) => f.label).join(", ")}.` : null;
    }
    case "folders":
      if (s.name.trim() === "") return "Give the connection a name.";
      if (s.localRoot.trim() === "") return "Choose a local folder.";
      if (!s.localCheck || s.localCheck.path !== s.localRoot) return "Checking the local folder...";
      if (!s.localCheck.result.ok) return s.localCheck.result.reason ?? "This folder cannot be used.";
      return null;
    case "options":
      return s.settingsOk ? null : "Fix the options marked above.";
    case "summary":
    case "done":
      return null;
  }
}

export function buildForm(
  s: WizardState,
  settings: Settings,
  scheduleText: string,
): WizardForm {
  const provider = s.provider?.id ?? "demo";
  return {
    provider,
    name: s.name.trim(),
    local_root: s.localRoot.trim(),
    remote_folder: s.remoteFolder,
    settings,
    schedule_text: scheduleText,
    fields: cleanFields(provider, s.fields),
  };
}

/** "a/b/c" -> [["", "/"], ["a","a"], ["a/b","b"], ["a/b/c","c"]] for the breadcrumb. */
export function breadcrumb(path: string): Array<{ path: string; label: string }> {
  const parts = path.split("/").filter(Boolean);
  const crumbs = [{ path: "", label: "/" }];
  parts.forEach((p, i) => crumbs.push({ path: parts.slice(0, i + 1).join("/"), label: p }));
  return crumbs;
}

export function joinRemote(parent: string, child: string): string {
  return parent ? `${parent}/${child}` : child;
}

/** What an empty remote folder means for `provider`: its default folder, or the top. */
export function defaultRemoteText(provider: ProviderId | undefined): string {
  switch (provider) {
    case "demo":
    case "dropbox":
      return "the default folder, /CloudSync";
    case "gdrive":
      return "the default folder, CloudSync in My Drive";
    case "baidu":
      return "the app's folder";
    default:
      return "the top of the remote";
  }
}
