//! Folders, moves and deletes: `create` with `isdir=1`, and `filemanager` with one item at
//! a time (`ondup=fail`, synchronous), each after checking that the entry is still the
//! version the engine listed (by fs_id, see [`Baidu::expect_version`]).

use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use serde_json::{json, Value};

use super::{api, errors, Baidu};

impl Baidu {
    /// filemanager with one item, reading the item's errno out of a failed batch.
    async fn manage(&self, opera: &str, item: Value, what: &str) -> Result<(), RemoteError> {
        let list = json!([item]).to_string();
        let v = self.filemanager_call(opera, list, what).await?;
        let item_errno = v
            .pointer("/info/0/errno")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let top = api::answer_code(&v).map(|(c, _)| c).unwrap_or(0);
        match (top, item_errno) {
            (0, 0) => Ok(()),
            (_, n) if n != 0 => Err(errors::map_errno(n, what, "")),
            (n, _) => Err(errors::map_errno(n, what, "")),
        }
    }

    /// Checks that `node` is still where and what it was listed as.
    async fn expect(&self, node: &Node) -> Result<(), RemoteError> {
        self.expect_version(&node.path, node).await
    }

    /// Creates the folder `path` (fine when it is there as a folder already).
    pub(super) async fn make_folder(&self, path: &RelPath) -> Result<Node, RemoteError> {
        let made = self
            .file_post(
                "create",
                &[],
                vec![
                    ("path".into(), self.remote_path(path)),
                    ("size".into(), "0".into()),
                    ("isdir".into(), "1".into()),
                    ("rtype".into(), "0".into()),
                ],
                &format!("creating the folder {path}"),
            )
            .await;
        match made {
            Ok(v) => {
                let id = v.get("fs_id").map(|x| match x {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                Ok(Node::dir(path.clone(), id))
            }
            Err(RemoteError::Changed(_)) => match self.stat(path).await? {
                Some(n) if n.kind == Kind::Dir => Ok(n),
                Some(_) => Err(RemoteError::Changed(format!("{path} exists as a file"))),
                None => Err(RemoteError::NotFound(format!("{path} vanished"))),
            },
            Err(e) => Err(e),
        }
    }

    /// Moves `node` to `to` after checking it is still the listed version; never onto
    /// something (`ondup=fail`: `Changed`).
    pub(super) async fn move_node(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.expect(node).await?;
        let dest = match to.parent() {
            Some(p) => self.remote_path(&p),
            None => self.root.clone(),
        };
        self.manage(
            "move",
            json!({
                "path": self.remote_path(&node.path),
                "dest": dest,
                "newname": to.name(),
                "ondup": "fail",
            }),
            &format!("moving {} to {to}", node.path),
        )
        .await?;
        self.stat(to)
            .await?
            .ok_or_else(|| RemoteError::NotFound(format!("{to} vanished after the move")))
    }

    /// Deletes `node` (into Baidu's recycle bin) after checking it is still the listed
    /// version; something already gone is done.
    pub(super) async fn delete_node(&self, node: &Node) -> Result<(), RemoteError> {
        match self.expect(node).await {
            Ok(()) => {}
            // Already gone: what a delete wants.
            Err(RemoteError::NotFound(_)) => return Ok(()),
            Err(e) => return Err(e),
        }
        match self
            .manage(
                "delete",
                json!(self.remote_path(&node.path)),
                &format!("deleting {}", node.path),
            )
            .await
        {
            Ok(()) | Err(RemoteError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}
