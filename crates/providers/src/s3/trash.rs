//! The remote trash folder's upkeep on S3: deleting for good when the user turned the
//! trash off, and purging day folders older than 30 days. (Moving a delete into the trash
//! is `Remote::delete` in the parent module.)

use cloudsync_core::rules::TRASH_DIR;
use cloudsync_core::{Kind, Node};
use cloudsync_engine::remote::RemoteError;
use cloudsync_engine::trash::expired_day_folder;
use futures::{StreamExt, TryStreamExt};

use super::{PARALLEL, S3};

impl S3 {
    /// Deletes `node` for good, if it is still as listed. For a folder only the keys
    /// listed now go: anything written below it meanwhile survives.
    pub(super) async fn delete_now(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect(node).await?;
        match node.kind {
            Kind::Dir => {
                let keys = self.keys_below(&node.path).await?;
                self.delete_keys(&keys).await
            }
            _ => {
                self.delete_raw(&self.key(&node.path), node.rev.as_deref())
                    .await
            }
        }
    }

    /// Deletes every key of the trash day folders that expired at `now_secs`; returns how
    /// many day folders went.
    pub(super) async fn purge_expired_trash(&self, now_secs: i64) -> Result<usize, RemoteError> {
        let trash = format!("{}{TRASH_DIR}/", self.prefix);
        let mut days: Vec<&str> = Vec::new();
        let objects = self.list_raw(&trash, None).await?;
        let expired: Vec<String> = objects
            .iter()
            .filter_map(|o| {
                let day = o.key.strip_prefix(&trash)?.split('/').next()?;
                expired_day_folder(day, now_secs).then(|| {
                    if !days.contains(&day) {
                        days.push(day);
                    }
                    o.key.clone()
                })
            })
            .collect();
        self.delete_keys(&expired).await?;
        Ok(days.len())
    }

    /// Deletes `keys`, a bounded number at a time.
    async fn delete_keys(&self, keys: &[String]) -> Result<(), RemoteError> {
        // Collected first: a lazy map's closure is not general enough for `async_trait`.
        let deletes: Vec<_> = keys.iter().map(|k| self.delete_raw(k, None)).collect();
        futures::stream::iter(deletes)
            .buffer_unordered(PARALLEL)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }
}
