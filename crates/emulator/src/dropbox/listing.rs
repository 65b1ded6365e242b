//! `files/list_folder`, `list_folder/continue`, `list_folder/get_latest_cursor` and the
//! notify host's `list_folder/longpoll`.
//!
//! The first listing pages through the current entries in path order; once it is done the
//! cursor points into the change log, and `continue` returns the changes after it (files
//! and folders as they were written, `deleted` entries for removals) in order.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::cursor::Cursor;
use super::store::LookupError;
use super::wire::{self, route_error, ApiError};
use super::{hostile, Shared};

/// Page size when the client gives none (Dropbox's `limit` is "approximate").
const DEFAULT_LIMIT: usize = 2000;

#[derive(Deserialize)]
struct ListFolderArg {
    path: String,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    limit: Option<u64>,
}

#[derive(Deserialize)]
struct ContinueArg {
    cursor: String,
}

#[derive(Deserialize)]
struct LongpollArg {
    cursor: String,
    #[serde(default = "default_timeout")]
    timeout: u64,
}

fn default_timeout() -> u64 {
    30
}

fn reset() -> ApiError {
    route_error(json!({".tag": "reset"}))
}

fn lookup(e: LookupError) -> ApiError {
    route_error(json!({".tag": "path", "path": e.to_json()}))
}

/// Checks the listed folder and returns its lowercased path and cased display path.
fn start(
    shared: &Shared,
    route: &str,
    account: &str,
    arg: Value,
) -> Result<(Cursor, String), ApiError> {
    let arg: ListFolderArg = wire::parse(route, arg)?;
    let limit = match arg.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=2000) => n as usize,
        Some(n) => {
            return Err(ApiError::bad(
                route,
                format!("request body: limit: {n} is not within the range 1..2000"),
            ))
        }
    };
    let mut state = shared.lock();
    let epoch = state.epoch;
    let ns = state.namespace(account);
    let root = ns.resolve(&arg.path).map_err(lookup)?;
    let display = if root.is_empty() {
        String::new()
    } else {
        match ns.get(&root) {
            None => return Err(lookup(LookupError::NotFound)),
            Some(e) if !matches!(e.item, super::store::Item::Folder) => {
                return Err(lookup(LookupError::NotFolder))
            }
            Some(e) => e.display.clone(),
        }
    };
    Ok((
        Cursor {
            account: account.to_string(),
            root,
            recursive: arg.recursive,
            seq: ns.seq(),
            after: None,
            limit,
            epoch,
        },
        display,
    ))
}

/// One page from `cursor`, and the cursor after it.
fn page(shared: &Shared, mut cursor: Cursor) -> Value {
    let mut state = shared.lock();
    let ns = state.namespace(&cursor.account);
    let (entries, has_more) = if cursor.after.is_some() {
        let (entries, last, more) = ns.list_page(
            &cursor.root,
            cursor.recursive,
            cursor.after.as_deref(),
            cursor.limit,
        );
        cursor.after = if more { last } else { None };
        (entries, more)
    } else {
        let (entries, reached, more) =
            ns.changes(&cursor.root, cursor.recursive, cursor.seq, cursor.limit);
        cursor.seq = reached;
        (entries, more)
    };
    json!({"entries": entries, "cursor": cursor.encode(), "has_more": has_more})
}

/// `files/list_folder`.
pub async fn list_folder(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (route, account, arg) = wire::rpc_call(&shared.context.tokens, req, false).await?;
        let (mut cursor, display) = start(&shared, &route, &account, arg)?;
        let (mut entries, has_more) = {
            let mut state = shared.lock();
            let ns = state.namespace(&account);
            let (entries, last, more) =
                ns.list_page(&cursor.root, cursor.recursive, None, cursor.limit);
            cursor.after = if more { last } else { None };
            (entries, more)
        };
        if shared.hostile() {
            entries.extend(hostile::entries(&display));
        }
        Ok::<_, ApiError>(wire::ok(json!({
            "entries": entries,
            "cursor": cursor.encode(),
            "has_more": has_more,
        })))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `files/list_folder/continue`.
pub async fn list_continue(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (route, account, arg) = wire::rpc_call(&shared.context.tokens, req, false).await?;
        let arg: ContinueArg = wire::parse(&route, arg)?;
        let epoch = shared.lock().epoch;
        let cursor = Cursor::decode(&arg.cursor, epoch)
            .filter(|c| c.account == account)
            .ok_or_else(reset)?;
        Ok::<_, ApiError>(wire::ok(page(&shared, cursor)))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `files/list_folder/get_latest_cursor`.
pub async fn latest_cursor(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (route, account, arg) = wire::rpc_call(&shared.context.tokens, req, false).await?;
        let (cursor, _) = start(&shared, &route, &account, arg)?;
        Ok::<_, ApiError>(wire::ok(json!({"cursor": cursor.encode()})))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// `files/list_folder/longpoll` (no auth: the cursor says whose changes to wait for).
/// Blocks until a change in the cursor's scope or `timeout` seconds (30..480); the real
/// service adds up to 90 s of jitter, the emulator none.
pub async fn longpoll(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let result = async {
        let (parts, body) = req.into_parts();
        let route = wire::route_name(parts.uri.path()).to_string();
        let body = wire::read_body(body, 1 << 20)
            .await?
            .ok_or_else(|| ApiError::bad(&route, "request body is too large"))?;
        let arg = wire::rpc_arg(&route, &parts.headers, &body, false)?;
        let arg: LongpollArg = wire::parse(&route, arg)?;
        if !(30..=480).contains(&arg.timeout) {
            return Err(ApiError::bad(
                &route,
                format!(
                    "request body: timeout: {} is not within the range 30..480",
                    arg.timeout
                ),
            ));
        }
        let backoff = shared.lock().longpoll_backoff;
        let answer = |changes: bool| {
            let mut a = json!({"changes": changes});
            if let Some(b) = backoff {
                a["backoff"] = json!(b);
            }
            wire::ok(a)
        };
        let mut changed = shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(arg.timeout);
        loop {
            {
                let mut state = shared.lock();
                let epoch = state.epoch;
                let cursor = Cursor::decode(&arg.cursor, epoch).ok_or_else(reset)?;
                if cursor.after.is_some() {
                    return Ok(answer(true));
                }
                let ns = state.namespace(&cursor.account);
                let (news, _, _) = ns.changes(&cursor.root, cursor.recursive, cursor.seq, 1);
                if !news.is_empty() {
                    return Ok(answer(true));
                }
            }
            match tokio::time::timeout_at(deadline, changed.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(answer(false)),
            }
        }
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}
