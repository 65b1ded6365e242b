//! The api host's file routes: `get_metadata`, `create_folder_v2`, `delete_v2`, `move_v2`
//! and `list_revisions`, with the error unions files.stone gives each.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::store::{DeleteError, Item, LookupError, RelocationError};
use super::time::{format_timestamp, now};
use super::wire::{self, route_error, ApiError};
use super::Shared;

#[derive(Deserialize)]
struct GetMetadataArg {
    path: String,
    #[serde(default)]
    include_deleted: bool,
}

#[derive(Deserialize)]
struct CreateFolderArg {
    path: String,
    #[serde(default)]
    autorename: bool,
}

#[derive(Deserialize)]
struct DeleteArg {
    path: String,
    #[serde(default)]
    parent_rev: Option<String>,
}

#[derive(Deserialize)]
struct RelocationArg {
    from_path: String,
    to_path: String,
    #[serde(default)]
    autorename: bool,
}

#[derive(Deserialize)]
struct ListRevisionsArg {
    path: String,
    #[serde(default)]
    mode: Option<Value>,
    #[serde(default)]
    limit: Option<u64>,
}

fn tagged(tag: &str, inner: Value) -> ApiError {
    route_error(json!({".tag": tag, tag: inner}))
}

async fn run<F>(shared: Arc<Shared>, req: Request, f: F) -> Response
where
    F: FnOnce(&Shared, &str, &str, Value) -> Result<Value, ApiError>,
{
    let result = async {
        let (route, account, arg) = wire::rpc_call(&shared.context.tokens, req, false).await?;
        f(&shared, &route, &account, arg).map(wire::ok)
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `files/get_metadata`.
pub async fn get_metadata(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, |shared, route, account, arg| {
        let arg: GetMetadataArg = wire::parse(route, arg)?;
        if arg.path.is_empty() {
            // ReadPath does not match "": metadata for the root folder is unsupported.
            return Err(ApiError::bad(
                route,
                "request body: path: '' did not match pattern '(/(.|[\\r\\n])*|id:.*)|(rev:[0-9a-f]{9,})|(ns:[0-9]+(/.*)?)'",
            ));
        }
        let mut state = shared.lock();
        let ns = state.namespace(account);
        if let Some(rev) = arg.path.strip_prefix("rev:") {
            return ns
                .by_rev(rev)
                .map(|(m, _)| m)
                .ok_or_else(|| tagged("path", LookupError::NotFound.to_json()));
        }
        let l = ns
            .resolve(&arg.path)
            .map_err(|e| tagged("path", e.to_json()))?;
        match ns.metadata_of(&l) {
            Some(m) => Ok(m),
            None if arg.include_deleted => ns
                .deleted_metadata(&l)
                .ok_or_else(|| tagged("path", LookupError::NotFound.to_json())),
            None => Err(tagged("path", LookupError::NotFound.to_json())),
        }
    })
    .await
}

/// `files/create_folder_v2`.
pub async fn create_folder(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, |shared, route, account, arg| {
        let arg: CreateFolderArg = wire::parse(route, arg)?;
        let m = shared
            .lock()
            .namespace(account)
            .create_folder(&arg.path, arg.autorename)
            .map_err(|e| tagged("path", e.to_json()))?;
        shared.notify();
        Ok(json!({"metadata": m}))
    })
    .await
}

/// `files/delete_v2`: answers the metadata the entry had (not a `DeletedMetadata`).
pub async fn delete(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, |shared, route, account, arg| {
        let arg: DeleteArg = wire::parse(route, arg)?;
        let m = shared
            .lock()
            .namespace(account)
            .delete(&arg.path, arg.parent_rev.as_deref(), now())
            .map_err(|e| match e {
                DeleteError::PathLookup(l) => tagged("path_lookup", l.to_json()),
                DeleteError::PathWrite(w) => tagged("path_write", w.to_json()),
            })?;
        shared.notify();
        Ok(json!({"metadata": m}))
    })
    .await
}

/// `files/move_v2`.
pub async fn move_entry(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, |shared, route, account, arg| {
        let arg: RelocationArg = wire::parse(route, arg)?;
        let m = shared
            .lock()
            .namespace(account)
            .relocate(&arg.from_path, &arg.to_path, arg.autorename, now())
            .map_err(|e| match e {
                RelocationError::FromLookup(l) => tagged("from_lookup", l.to_json()),
                RelocationError::To(w) => tagged("to", w.to_json()),
                RelocationError::IntoItself => {
                    route_error(json!({".tag": "cant_move_folder_into_itself"}))
                }
            })?;
        shared.notify();
        Ok(json!({"metadata": m}))
    })
    .await
}

/// `files/list_revisions` (`path` and `id` modes; the versions an overwrite replaced
/// stay listed).
pub async fn list_revisions(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    run(shared, req, |shared, route, account, arg| {
        let arg: ListRevisionsArg = wire::parse(route, arg)?;
        let limit = match arg.limit {
            None => 10,
            Some(n @ 1..=100) => n as usize,
            Some(n) => {
                return Err(ApiError::bad(
                    route,
                    format!("request body: limit: {n} is not within the range 1..100"),
                ))
            }
        };
        let mode = match &arg.mode {
            None => "path",
            Some(Value::String(s)) => s.as_str(),
            Some(v) => v.get(".tag").and_then(Value::as_str).unwrap_or(""),
        };
        if !matches!(mode, "path" | "id") {
            return Err(ApiError::bad(
                route,
                format!("request body: mode: unknown tag '{mode}'"),
            ));
        }
        let mut state = shared.lock();
        let ns = state.namespace(account);
        let l = ns
            .resolve(&arg.path)
            .map_err(|e| tagged("path", e.to_json()))?;
        if let Some(e) = ns.get(&l) {
            if matches!(e.item, Item::Folder) {
                return Err(tagged("path", LookupError::NotFile.to_json()));
            }
        }
        let (versions, deleted) = ns.revisions(&l);
        if versions.is_empty() {
            return Err(tagged("path", LookupError::NotFound.to_json()));
        }
        let has_more = versions.len() > limit;
        let entries: Vec<Value> = versions.into_iter().take(limit).collect();
        let mut out = json!({
            "is_deleted": deleted.is_some(),
            "entries": entries,
            "has_more": has_more,
        });
        if let Some(t) = deleted {
            out["server_deleted"] = json!(format_timestamp(t));
        }
        Ok(out)
    })
    .await
}
