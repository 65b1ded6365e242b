// The main window: connection list, the selected connection's header, approval panel and
// tabs. It owns the live state (snapshot, selected connection's detail) and turns events
// into refreshes; the tabs only fetch their own lists. Refreshes only re-render: the tabs
// are keyed by connection name, so only another connection gives them fresh state (no
// "reset on name change" effects, which would run after paint and undo a quick click).
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, errorText, events, type ConnectionDetail, type Snapshot } from "../api";
import { changesActivity, changesLists, totalSpeed, transfersOf } from "../logic/filters";
import { Activity } from "./Activity";
import { ApprovalPanel } from "./ApprovalPanel";
import { ErrorText } from "./common";
import { Conflicts } from "./Conflicts";
import { ConnectionList } from "./ConnectionList";
import { Overview, StatusText } from "./Overview";
import { RelinkPanel } from "./RelinkPanel";
import { SettingsTab } from "./SettingsTab";
import { Skipped } from "./Skipped";
import { Transfers } from "./Transfers";

type TabId = "overview" | "transfers" | "activity" | "skipped" | "conflicts" | "settings";
const TABS: Array<{ id: TabId; label: string }> = [
  { id: "overview", label: "Overview" },
  { id: "transfers", label: "Transfers" },
  { id: "activity", label: "Activity" },
  { id: "skipped", label: "Skipped" },
  { id: "conflicts", label: "Conflicts" },
  { id: "settings", label: "Settings" },
];

// Engine events come in bursts (one per file); one refetch per burst is plenty.
const DEBOUNCE_MS = 400;

function useDebouncedCounter(): [number, () => void] {
  const [n, setN] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => void (timer.current && clearTimeout(timer.current)), []);
  const bump = useCallback(() => {
    if (timer.current) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      setN((x) => x + 1);
    }, DEBOUNCE_MS);
  }, []);
  return [n, bump];
}

export function MainWindow() {
  const [snap, setSnap] = useState<Snapshot | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(null);
  const [tab, setTab] = useState<TabId>("overview");
  const [detail, setDetail] = useState<ConnectionDetail | null>(null);
  const [detailError, setDetailError] = useState<string | null>(null);
  const [detailNonce, setDetailNonce] = useState(0);
  const [addError, setAddError] = useState<string | null>(null);
  const [activityTick, bumpActivity] = useDebouncedCounter();
  const [listsTick, bumpLists] = useDebouncedCounter();
  const selectedRef = useRef<string | null>(null);
  selectedRef.current = selected;

  const refreshSnapshot = useCallback(() => {
    api
      .snapshot()
      .then((s) => {
        setSnap(s);
        setLoadError(null);
      })
      .catch((e) => setLoadError(errorText(e)));
  }, []);

  const refreshAll = useCallback(() => {
    refreshSnapshot();
    setDetailNonce((n) => n + 1);
    bumpActivity();
    bumpLists();
  }, []);

  useEffect(() => {
    refreshSnapshot();
    const unlistens = [
      events.snapshot((s) => {
        setSnap(s);
        setLoadError(null);
      }),
      events.connectionsChanged(refreshAll),
      events.engineEvent((e) => {
        const name = selectedRef.current;
        if (!name) return;
        if (changesActivity(e, name)) bumpActivity();
        if (changesLists(e, name)) bumpLists();
      }),
    ];
    return () => unlistens.forEach((p) => p.then((f) => f()).catch(() => {}));
  }, []);

  const connections = snap?.connections ?? [];
  // Keep the selection valid: first connection by default, the next one after an unlink.
  useEffect(() => {
    if (!snap) return;
    if (selected === null || !connections.some((c) => c.name === selected)) {
      setSelected(connections.length ? connections[0].name : null);
    }
  }, [snap, selected]);

  const status = connections.find((c) => c.name === selected) ?? null;

  // The detail (settings, pending plan) is refetched when what it depends on moves: another
  // connection, a state change (e.g. into waiting-for-approval), or connections-changed.
  const detailKey = status ? `${status.name}|${status.state}|${status.reason}|${status.paused}|${detailNonce}` : "";
  const detailSeq = useRef(0);
  useEffect(() => {
    if (!status) {
      setDetail(null);
      return;
    }
    const mine = ++detailSeq.current;
    api
      .connectionDetail(status.name)
      .then((d) => {
        if (mine === detailSeq.current) {
          setDetail(d);
          setDetailError(null);
        }
      })
      .catch((e) => mine === detailSeq.current && setDetailError(errorText(e)));
  }, [detailKey]);

  const select = (name: string) => {
    if (name === selected) return;
    setSelected(name);
    setDetail(null);
    setDetailError(null);
  };

  const openWizard = () => {
    setAddError(null);
    api.openWizard().catch((e) => setAddError(errorText(e)));
  };

  // The usual tablist keys: arrows move between tabs, Home/End jump to the ends.
  const onTabKey = (e: KeyboardEvent) => {
    const i = TABS.findIndex((t) => t.id === tab);
    const to =
      e.key === "ArrowRight" ? (i + 1) % TABS.length
      : e.key === "ArrowLeft" ? (i + TABS.length - 1) % TABS.length
      : e.key === "Home" ? 0
      : e.key === "End" ? TABS.length - 1
      : -1;
    if (to < 0) return;
    e.preventDefault();
    setTab(TABS[to].id);
    document.getElementById(`tab-${TABS[to].id}`)?.focus();
  };

  const liveDetail = detail && status && detail.status.name === status.name ? detail : null;
  const myTransfers = status ? transfersOf(snap?.transfers ?? [], status.name) : [];

  return (
    <div class="main-window">
      <ConnectionList
        statusLine={snap?.status_line ?? null}
        connections={connections}
        selected={selected}
        onSelect={select}
        onAdd={openWizard}
        addError={addError}
      />
      <main class="content">
        <ErrorText error={loadError} testId="load-error" />
        {snap && connections.length === 0 && (
          <div class="empty-state" data-testid="empty-state">
            <img class="empty-icon" src="/icon.svg" alt="" width="64" height="64" />
            <h2>No connections yet</h2>
            <p>
              A connection keeps one folder on this computer in sync with a folder in the cloud. Choose{" "}
              <strong>Add connection</strong> to set one up; the built-in Demo cloud needs no account.
            </p>
          </div>
        )}
        {!snap && !loadError && <p class="placeholder">Loading…</p>}
        {status && (
          <>
            <header class="conn-header">
              <div>
                <h2 class="conn-title">{status.name}</h2>
                <p class="muted small path">
                  {status.local_root} ⇄ {status.remote}
                </p>
              </div>
              <StatusText status={status} />
            </header>
            {status.sign_in_needed && <RelinkPanel key={status.name} status={status} onChanged={refreshAll} />}
            {status.state === "waiting-for-approval" && (
              <ApprovalPanel
                key={status.name}
                name={status.name}
                reason={status.reason}
                plan={liveDetail?.pending_plan ?? null}
                onChanged={refreshAll}
              />
            )}
            <div class="tabs" role="tablist" aria-label="Connection" onKeyDown={onTabKey}>
              {TABS.map((t) => (
                <button
                  key={t.id}
                  type="button"
                  role="tab"
                  id={`tab-${t.id}`}
                  aria-selected={tab === t.id}
                  tabIndex={tab === t.id ? 0 : -1}
                  aria-controls="tab-panel"
                  class={tab === t.id ? "tab active" : "tab"}
                  data-testid={`tab-${t.id}`}
                  onClick={() => setTab(t.id)}
                >
                  {t.label}
                  {t.id === "transfers" && myTransfers.length > 0 && <span class="badge">{myTransfers.length}</span>}
                  {t.id === "skipped" && status.skipped > 0 && <span class="badge muted-badge">{status.skipped}</span>}
                  {t.id === "conflicts" && status.conflicts > 0 && <span class="badge warn">{status.conflicts}</span>}
                </button>
              ))}
            </div>
            <div class="tab-panel" id="tab-panel" role="tabpanel" aria-labelledby={`tab-${tab}`}>
              {tab === "overview" && (
                <Overview key={status.name} status={status} onChanged={refreshAll} onUnlinked={refreshAll} />
              )}
              {tab === "transfers" && (
                <Transfers
                  transfers={myTransfers}
                  connectionSpeed={totalSpeed(myTransfers)}
                  totalSpeed={snap?.total_bytes_per_sec ?? 0}
                />
              )}
              {tab === "activity" && <Activity key={status.name} name={status.name} refreshTick={activityTick} />}
              {tab === "skipped" && <Skipped key={status.name} name={status.name} refreshTick={listsTick} />}
              {tab === "conflicts" && (
                <Conflicts key={status.name} name={status.name} refreshTick={listsTick} onChanged={refreshAll} />
              )}
              {tab === "settings" &&
                (liveDetail ? (
                  <SettingsTab
                    key={status.name}
                    detail={liveDetail}
                    onSaved={(d) => {
                      setDetail(d);
                      refreshSnapshot();
                    }}
                  />
                ) : detailError ? null : (
                  <p class="placeholder">Loading…</p>
                ))}
              <ErrorText error={detailError} testId="detail-error" />
            </div>
          </>
        )}
      </main>
    </div>
  );
}
