// Wizard step 4: the connection's options, through the same SettingsForm as the Settings tab.
import type { SettingsErrors, SettingsValues } from "../../logic/settingsForm";
import { SettingsForm } from "../SettingsForm";

export function OptionsStep(props: {
  values: SettingsValues;
  errors: SettingsErrors;
  onChange: (v: SettingsValues) => void;
  topFolders: string[] | null;
  topFoldersError: string | null;
}) {
  return (
    <div class="options-step">
      <p class="muted small">The defaults suit most people; every option can be changed later in Settings.</p>
      <SettingsForm
        values={props.values}
        errors={props.errors}
        onChange={props.onChange}
        remoteFolders={props.topFolders ?? []}
        remoteFoldersNote={
          props.topFoldersError
            ? `The remote folders could not be listed: ${props.topFoldersError}`
            : props.topFolders === null
              ? "Listing the remote folders…"
              : "The remote folder has no subfolders yet."
        }
      />
    </div>
  );
}
