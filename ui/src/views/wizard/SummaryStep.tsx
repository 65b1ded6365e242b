// Wizard step 5: everything chosen, in words, before anything is created.
import { Fragment } from "preact";
import type { ProviderInfo, Settings } from "../../api";
import { describeSettings } from "../../logic/settingsForm";

export function SummaryStep(props: {
  provider: ProviderInfo;
  account: string | null;
  name: string;
  localRoot: string;
  remoteFolder: string;
  settings: Settings;
  scheduleText: string;
}) {
  const rows: Array<[string, string]> = [
    ["Connection name", props.name],
    ["Provider", props.provider.label],
    ...(props.account ? ([["Account", props.account]] as Array<[string, string]>) : []),
    ["Local folder", props.localRoot],
    ["Remote folder", `/${props.remoteFolder}`],
    ...describeSettings(props.settings, props.scheduleText),
  ];
  return (
    <div class="summary" data-testid="summary">
      <p>CloudSync will create this connection and start the first sync right away.</p>
      <dl class="facts">
        {rows.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd class={k.includes("folder") ? "path" : undefined}>
              {v}
            </dd>
          </Fragment>
        ))}
      </dl>
    </div>
  );
}
