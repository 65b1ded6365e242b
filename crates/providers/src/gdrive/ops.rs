//! Finding the root and the folders of paths, and the metadata operations: create folder,
//! move/rename, trash, delete, and the account's identity.

use cloudsync_core::rules::ROOT_MARKER;
use cloudsync_core::{Kind, Node, RelPath};
use cloudsync_engine::remote::RemoteError;
use serde::Deserialize;
use serde_json::json;

use super::api::{enc, q_string, DriveFile, FILE_FIELDS, FOLDER_MIME};
use super::names::node;
use super::GoogleDrive;

fn other(e: impl std::fmt::Display) -> RemoteError {
    RemoteError::Other(e.to_string())
}

impl GoogleDrive {
    /// The root folder's id (looked up once; never created here).
    pub(super) async fn root_id(&self) -> Result<String, RemoteError> {
        let mut root = self.root.lock().await;
        if let Some(id) = root.as_ref() {
            return Ok(id.clone());
        }
        let id = self.find_root(false).await?;
        *root = Some(id.clone());
        Ok(id)
    }

    /// Walks the configured root path from My Drive; with `create`, makes missing folders.
    async fn find_root(&self, create: bool) -> Result<String, RemoteError> {
        let mut current = self.api.get_file("root").await?.id;
        let last = self.root_path.len();
        for (i, name) in self.root_path.iter().enumerate() {
            let mut folders: Vec<DriveFile> = self
                .children(
                    &current,
                    Some(&format!(
                        "name = {} and mimeType = '{FOLDER_MIME}'",
                        q_string(name)
                    )),
                )
                .await?;
            folders.sort_by(|a, b| (&a.created_time, &a.id).cmp(&(&b.created_time, &b.id)));
            let mut chosen = folders.first().map(|f| f.id.clone());
            if i + 1 == last && folders.len() > 1 {
                // Same-named folders: the one holding our marker is ours.
                for f in &folders {
                    if self.has_marker(&f.id).await? {
                        chosen = Some(f.id.clone());
                        break;
                    }
                }
            }
            current = match chosen {
                Some(id) => id,
                None if create => self.create_folder(&current, name).await?.id,
                None => {
                    return Err(RemoteError::NotFound(format!(
                        "the Drive folder {:?} is not there (moved, trashed or deleted?)",
                        self.root_path.join("/")
                    )))
                }
            };
        }
        Ok(current)
    }

    async fn has_marker(&self, folder: &str) -> Result<bool, RemoteError> {
        let found = self
            .children(folder, Some(&format!("name = {}", q_string(ROOT_MARKER))))
            .await?;
        Ok(found.iter().any(|f| !f.is_folder()))
    }

    /// The root folder is there, not trashed, and carries the marker.
    pub(super) async fn check_root_and_marker(&self) -> Result<(), RemoteError> {
        let id = self.root_id().await?;
        let root = match self.api.get_file(&id).await {
            Err(RemoteError::NotFound(_)) => None,
            other => Some(other?),
        };
        if root.as_ref().is_none_or(|r| r.trashed || !r.is_folder()) {
            *self.root.lock().await = None;
            return Err(RemoteError::NotFound(format!(
                "the Drive folder {:?} is gone or in the trash",
                self.root_path.join("/")
            )));
        }
        if !self.has_marker(&id).await? {
            return Err(RemoteError::NotFound(format!(
                "the Drive folder {:?} has no {ROOT_MARKER} marker (wrong folder, or not set up)",
                self.root_path.join("/")
            )));
        }
        Ok(())
    }

    /// Creates the root path and its marker where missing.
    pub(super) async fn create_root_and_marker(&self) -> Result<(), RemoteError> {
        let id = self.find_root(true).await?;
        *self.root.lock().await = Some(id.clone());
        if !self.has_marker(&id).await? {
            let body: &[u8] = b"CloudSync remote root. Do not delete.\n";
            self.multipart_create(&id, ROOT_MARKER, body, None).await?;
        }
        Ok(())
    }

    async fn create_folder(&self, parent: &str, name: &str) -> Result<DriveFile, RemoteError> {
        let url = self.api.url("/drive/v3/files");
        let meta = json!({"name": name, "mimeType": FOLDER_MIME, "parents": [parent]});
        self.api
            .json("files.create", |c| {
                c.post(&url).query(&[("fields", FILE_FIELDS)]).json(&meta)
            })
            .await
    }

    /// The id of the folder at `dir` (the root for `None`): from the last listing, else
    /// found by name below its parent.
    pub(super) async fn folder_id(&self, dir: Option<&RelPath>) -> Result<String, RemoteError> {
        let Some(dir) = dir else {
            return self.root_id().await;
        };
        if let Some(id) = self.state().ids.get(&dir.key()).cloned() {
            return Ok(id);
        }
        let parent = Box::pin(self.folder_id(dir.parent().as_ref())).await?;
        let found = self
            .children(
                &parent,
                Some(&format!(
                    "name = {} and mimeType = '{FOLDER_MIME}'",
                    q_string(dir.name())
                )),
            )
            .await?;
        let f = found
            .into_iter()
            .next()
            .ok_or_else(|| RemoteError::NotFound(format!("no Drive folder at {dir}")))?;
        self.remember(dir, &f);
        Ok(f.id)
    }

    /// Synced entries (not native documents) named `name` in `folder`.
    pub(super) async fn named(
        &self,
        folder: &str,
        name: &str,
    ) -> Result<Vec<DriveFile>, RemoteError> {
        let found = self
            .children(folder, Some(&format!("name = {}", q_string(name))))
            .await?;
        Ok(found
            .into_iter()
            .filter(|f| f.is_folder() || !f.mime_type.starts_with("application/vnd.google-apps."))
            .collect())
    }

    /// Notes that `path` is the file `f` (after a write of ours).
    pub(super) fn remember(&self, path: &RelPath, f: &DriveFile) {
        let mut st = self.state();
        if let Some(old) = st.paths.insert(f.id.clone(), path.clone()) {
            if old != *path {
                st.ids.remove(&old.key());
                // The folder's known descendants move with it.
                let moved: Vec<(String, RelPath)> = st
                    .paths
                    .iter()
                    .filter_map(|(id, p)| p.rebase(&old, path).map(|n| (id.clone(), n)))
                    .filter(|(id, _)| *id != f.id)
                    .collect();
                for (id, p) in moved {
                    if let Some(prev) = st.paths.insert(id.clone(), p.clone()) {
                        st.ids.remove(&prev.key());
                    }
                    st.ids.insert(p.key(), id);
                }
            }
        }
        st.ids.insert(path.key(), f.id.clone());
        st.entries.insert(f.id.clone(), f.clone());
    }

    fn forget(&self, node: &Node) {
        let mut st = self.state();
        if let Some(id) = &node.id {
            st.paths.remove(id);
            st.entries.remove(id);
        }
        st.ids.remove(&node.path.key());
    }

    /// The file behind `node` as Drive has it now; `None` when it is gone or trashed.
    async fn fetch(&self, node: &Node) -> Result<Option<DriveFile>, RemoteError> {
        let id = node
            .id
            .as_deref()
            .ok_or_else(|| other(format!("{} has no Drive id", node.path)))?;
        match self.api.get_file(id).await {
            Err(RemoteError::NotFound(_)) => Ok(None),
            Ok(f) if f.trashed => Ok(None),
            r => r.map(Some),
        }
    }

    /// Refuses when the file's content changed since the engine saw `node`.
    fn unchanged(node: &Node, f: &DriveFile) -> Result<(), RemoteError> {
        if node.kind == Kind::File && node.rev.is_some() && f.rev() != node.rev {
            return Err(RemoteError::Changed(format!(
                "{} changed on Drive since it was listed",
                node.path
            )));
        }
        Ok(())
    }

    /// The file behind `node`, refusing when it is gone or changed since the engine saw it.
    pub(super) async fn current(&self, node: &Node) -> Result<DriveFile, RemoteError> {
        let f = self.fetch(node).await?.ok_or_else(|| {
            RemoteError::Changed(format!("{} is gone from Drive or in its trash", node.path))
        })?;
        Self::unchanged(node, &f)?;
        Ok(f)
    }

    /// Creates the folder at `path` (or answers the one already there).
    pub(super) async fn make_folder(&self, path: &RelPath) -> Result<Node, RemoteError> {
        let parent = self.folder_id(path.parent().as_ref()).await?;
        let existing = self.named(&parent, path.name()).await?;
        if let Some(f) = existing.iter().find(|f| f.is_folder()) {
            self.remember(path, f);
            return Ok(node(path.clone(), f));
        }
        if !existing.is_empty() {
            return Err(RemoteError::Changed(format!(
                "a file is at {path} on Drive, not a folder"
            )));
        }
        let f = self.create_folder(&parent, path.name()).await?;
        self.remember(path, &f);
        Ok(node(path.clone(), &f))
    }

    /// Renames and/or moves `n` to `to` (by id, with `addParents`/`removeParents`).
    pub(super) async fn move_to(&self, n: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        let f = self.current(n).await?;
        let parent = self.folder_id(to.parent().as_ref()).await?;
        if self
            .named(&parent, to.name())
            .await?
            .iter()
            .any(|o| o.id != f.id)
        {
            return Err(RemoteError::Changed(format!(
                "{to} already exists on Drive"
            )));
        }
        let url = self.api.url(&format!("/drive/v3/files/{}", enc(&f.id)));
        let old_parents = f.parents.join(",");
        let moving = !f.parents.contains(&parent);
        let meta = json!({"name": to.name()});
        let moved: DriveFile = self
            .api
            .json("files.update", |c| {
                let mut r = c.patch(&url).query(&[("fields", FILE_FIELDS)]).json(&meta);
                if moving {
                    r = r.query(&[
                        ("addParents", parent.as_str()),
                        ("removeParents", old_parents.as_str()),
                    ]);
                }
                r
            })
            .await?;
        self.remember(to, &moved);
        Ok(node(to.clone(), &moved))
    }

    /// Moves `n` to Drive's trash (recoverable for 30 days).
    pub(super) async fn trash(&self, n: &Node) -> Result<(), RemoteError> {
        let Some(f) = self.fetch(n).await? else {
            // Already gone or trashed: what was asked.
            self.forget(n);
            return Ok(());
        };
        // An edit made since the listing wins over the delete.
        Self::unchanged(n, &f)?;
        let url = self.api.url(&format!("/drive/v3/files/{}", enc(&f.id)));
        self.api
            .send("files.update", |c| {
                c.patch(&url)
                    .query(&[("fields", "id,trashed")])
                    .json(&json!({"trashed": true}))
            })
            .await?;
        self.forget(n);
        Ok(())
    }

    /// Deletes `n` for good.
    pub(super) async fn delete_for_good(&self, n: &Node) -> Result<(), RemoteError> {
        let id =
            n.id.as_deref()
                .ok_or_else(|| other(format!("{} has no Drive id", n.path)))?;
        let url = self.api.url(&format!("/drive/v3/files/{}", enc(id)));
        match self.api.send("files.delete", |c| c.delete(&url)).await {
            Ok(_) | Err(RemoteError::NotFound(_)) => {
                self.forget(n);
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// The signed-in account (`about.user`): its email address, else its permission id.
    pub(super) async fn about_user(&self) -> Result<Option<String>, RemoteError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct User {
            email_address: Option<String>,
            permission_id: Option<String>,
        }
        #[derive(Deserialize)]
        struct About {
            user: Option<User>,
        }
        let url = self.api.url("/drive/v3/about");
        let about: About = self
            .api
            .json("about.get", |c| c.get(&url).query(&[("fields", "user")]))
            .await?;
        Ok(about.user.and_then(|u| u.email_address.or(u.permission_id)))
    }
}
