//! Runs every scenario in `tests/scenarios/*.scn` against the real engine (one test per
//! file; the format is described in `tests/scenarios/README.md`).

use cloudsync_tests::scenario::{run_file, scenario_dir, scenario_names};

fn run(name: &str) {
    let path = scenario_dir().join(format!("{name}.scn"));
    if let Err(e) = run_file(&path) {
        panic!("\n{e}");
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name));
            }
        )*

        /// Every listed name, to check the list against the folder.
        const LISTED: &[&str] = &[$(stringify!($name)),*];
    };
}

scenarios!(
    both_created_same_content,
    both_edited_same_content,
    case_only_rename_local,
    case_only_rename_remote,
    conflict_both_created,
    conflict_keep_both,
    conflict_keep_local,
    conflict_keep_remote,
    conflict_newer_wins_local,
    conflict_newer_wins_remote,
    crash_during_download,
    crash_during_replacing_download,
    crash_during_upload,
    create_local,
    create_remote,
    delete_folder_local_add_inside_remote,
    delete_folder_local_edit_inside_remote,
    delete_folder_remote_edit_inside_local,
    delete_local,
    delete_local_edit_remote,
    delete_remote,
    delete_remote_edit_local,
    download_only,
    download_only_conflict,
    exclude_folder_later,
    file_to_folder_local,
    file_to_folder_local_edit_remote,
    file_to_folder_remote,
    folder_to_file_local_add_inside_remote,
    guard_local_root_empty,
    guard_local_root_missing,
    guard_marker_missing,
    guard_remote_root_empty,
    guard_remote_root_missing,
    idempotent_second_sync,
    inode_reuse_delete_then_create,
    inode_reuse_folder_no_delete,
    inode_reuse_no_delete,
    inode_reuse_remote_no_delete,
    kind_clash_new_on_both,
    mass_delete_below_threshold,
    mass_delete_guard,
    mass_delete_guard_folder,
    mass_delete_guard_remote,
    modify_local,
    modify_remote,
    move_file_local,
    move_file_remote,
    move_folder_into_folder_deleted_remote,
    move_folder_local,
    move_folder_local_deleted_remote,
    move_folder_local_edit_inside_remote,
    move_folder_remote,
    move_into_folder_deleted_local,
    move_into_folder_deleted_remote,
    move_out_of_folder_deleted_remote,
    nfc_nfd_clash_same_side,
    nfc_nfd_different_content,
    nfc_nfd_folder,
    nfc_nfd_same_file,
    no_delete,
    refused_name_does_not_hold_back_the_rest,
    rename_and_edit_local,
    rename_both_sides_differently,
    rename_both_sides_same,
    rename_file_local,
    rename_file_remote,
    rename_folder_local,
    rename_folder_local_add_inside_remote,
    rename_folder_remote,
    rename_local_edit_remote,
    restart_between_syncs,
    skip_blacklisted_dot_names,
    skip_blacklisted_names,
    skip_forbidden_characters,
    skip_forbidden_characters_remote,
    skip_name_too_long,
    skip_path_too_long,
    skip_reserved_prefixes,
    skip_too_large,
    skip_user_filters,
    swap_names_local,
    tail_character_rename_folder,
    tail_character_rename_local,
    tail_character_rename_remote,
    upload_only,
    upload_only_conflict,
);

#[test]
fn every_scenario_file_has_a_test() {
    let names = scenario_names().expect("scenario folder readable");
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !LISTED.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "add these to the scenarios! list: {missing:?}"
    );
    let stale: Vec<&&str> = LISTED
        .iter()
        .filter(|n| !names.iter().any(|m| m == *n))
        .collect();
    assert!(stale.is_empty(), "no file for: {stale:?}");
}
