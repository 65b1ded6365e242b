// The Transfers tab: the files moving right now, straight from the pushed snapshot.
import type { Transfer } from "../api";
import { formatBytes, formatSpeed, percent } from "../format";

export function Transfers(props: { transfers: Transfer[]; connectionSpeed: number; totalSpeed: number }) {
  return (
    <section class="transfers">
      <p class="speed-line" data-testid="transfer-speed">
        <span>
          This connection: <strong>{formatSpeed(props.connectionSpeed)}</strong>
        </span>
        <span class="muted">All connections: {formatSpeed(props.totalSpeed)}</span>
      </p>
      {props.transfers.length === 0 ? (
        <p class="placeholder">Nothing is being transferred right now.</p>
      ) : (
        <ul class="transfer-list">
          {props.transfers.map((t) => (
            <li key={`${t.direction}:${t.path}`} class="transfer-row" data-testid="transfer-row">
              <span
                class={`arrow ${t.direction}`}
                title={t.direction === "upload" ? "Uploading" : "Downloading"}
                aria-label={t.direction}
              >
                {t.direction === "upload" ? "↑" : "↓"}
              </span>
              <span class="path transfer-path" title={t.path}>
                {t.path}
              </span>
              <progress max={100} value={percent(t.done, t.total)} aria-label={`${percent(t.done, t.total)}%`} />
              <span class="transfer-amount">
                {formatBytes(t.done)} / {formatBytes(t.total)}
              </span>
              <span class="transfer-speed">{formatSpeed(t.bytes_per_sec)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
