//! The remote trash folder's upkeep on WebDAV: deleting for good when the user turned the
//! trash off, and purging day folders older than 30 days. (Moving a delete into the trash
//! is `Remote::delete` in the parent module.)

use cloudsync_core::rules::TRASH_DIR;
use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use cloudsync_engine::trash::expired_day_folder;

use super::{other, temp_name, WebDav};

impl WebDav {
    /// Deletes `node` for good, if it is still as listed.
    pub(super) async fn delete_now(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect(node).await?;
        if node.kind == Kind::File {
            return self.delete_url(self.url(Some(&node.path), false)).await;
        }
        // A folder is renamed away first: a server may delete a collection member by
        // member, and a failure halfway must not leave a half-emptied folder under its name.
        let doomed = node.path.with_name(&temp_name()).map_err(other)?;
        self.move_to(
            self.url(Some(&node.path), true),
            self.url(Some(&doomed), true),
            false,
        )
        .await?;
        self.delete_url(self.url(Some(&doomed), true)).await
    }

    /// Deletes the trash day folders that expired at `now_secs`; returns how many.
    pub(super) async fn purge_expired_trash(&self, now_secs: i64) -> Result<usize, RemoteError> {
        let trash = RelPath::from_name(TRASH_DIR).map_err(other)?;
        let Some(entries) = self.propfind(self.url(Some(&trash), true), "1").await? else {
            return Ok(0);
        };
        let mut removed = 0;
        for entry in entries.iter().filter(|e| e.is_collection) {
            let Some(segments) = self.relative_segments(&entry.href) else {
                continue;
            };
            let [Ok(folder), Ok(day)] = segments.as_slice() else {
                continue;
            };
            if folder != TRASH_DIR || !expired_day_folder(day, now_secs) {
                continue;
            }
            let day = trash.join(day).map_err(other)?;
            self.delete_url(self.url(Some(&day), true)).await?;
            removed += 1;
        }
        Ok(removed)
    }
}
