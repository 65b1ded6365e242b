// Wizard step 1: where to sync with. Unavailable providers stay visible, disabled, with why.
import type { ProviderInfo } from "../../api";

const BLURBS: Record<string, string> = {
  demo: "A cloud built into the app, to try CloudSync without an account.",
  local: "Another folder on this computer, a USB disk or a mounted share.",
  webdav: "Nextcloud, ownCloud, a NAS, or any WebDAV server.",
  s3: "Amazon S3 or any S3-compatible storage (MinIO, Backblaze B2, Wasabi...).",
  dropbox: "Sign in with your Dropbox account in the browser.",
  gdrive: "Sign in with your Google account in the browser.",
  baidu: "Sign in with a device code from the Baidu Netdisk app or site.",
};

export function ProviderStep(props: {
  providers: ProviderInfo[];
  selected: ProviderInfo | null;
  onSelect: (p: ProviderInfo) => void;
  onChoose: (p: ProviderInfo) => void;
}) {
  return (
    <div class="provider-grid" role="radiogroup" aria-label="Provider">
      {props.providers.map((p) => (
        <button
          key={p.id}
          type="button"
          role="radio"
          aria-checked={props.selected?.id === p.id}
          class={`provider-card${props.selected?.id === p.id ? " selected" : ""}`}
          data-testid={`provider-${p.id}`}
          disabled={!p.available}
          onClick={() => props.onSelect(p)}
          onDblClick={() => p.available && props.onChoose(p)}
        >
          <span class={`provider-logo logo-${p.id}`} aria-hidden="true">
            {p.label.slice(0, 1)}
          </span>
          <span class="provider-label">{p.label}</span>
          <span class="provider-blurb">{p.available ? BLURBS[p.id] ?? "" : p.why_unavailable ?? "Not available."}</span>
        </button>
      ))}
    </div>
  );
}
