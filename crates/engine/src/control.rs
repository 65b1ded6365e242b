//! The control protocol: requests the CLI (and later the app) make of an engine, answered
//! the same way whether the engine runs in this process or in a daemon behind the
//! control socket (JSON lines over a Unix domain socket, owner-only).

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::engine::{AddConnection, Choice, Engine};
use crate::error::EngineError;
use crate::store::Action;
use cloudsync_core::ConnectionSettings;

/// A request to an engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// Add a connection.
    Add(AddConnection),
    /// Replace a connection's settings.
    Set {
        /// Connection.
        name: String,
        /// New settings.
        settings: ConnectionSettings,
    },
    /// One connection.
    Get {
        /// Connection.
        name: String,
    },
    /// All connections.
    List,
    /// New credentials were stored for a connection (after `relink`): open its remote
    /// anew and clear an authorization error.
    Relinked {
        /// Connection.
        name: String,
    },
    /// Drop a connection, keeping all files.
    Unlink {
        /// Connection.
        name: String,
    },
    /// Pause one or all.
    Pause {
        /// Connection, or all.
        name: Option<String>,
    },
    /// Resume one or all.
    Resume {
        /// Connection, or all.
        name: Option<String>,
    },
    /// Sync until converged.
    Sync {
        /// Connection, or all that are not paused.
        name: Option<String>,
    },
    /// Status of all connections.
    Status,
    /// Skipped items.
    Skipped {
        /// Connection, or all.
        name: Option<String>,
    },
    /// Why a path is (not) synced.
    Why {
        /// Connection.
        name: String,
        /// Path.
        path: String,
    },
    /// Open conflicts.
    Conflicts {
        /// Connection, or all.
        name: Option<String>,
    },
    /// Settle a conflict.
    Resolve {
        /// Connection.
        name: String,
        /// Path.
        path: String,
        /// Choice.
        choice: Choice,
    },
    /// Show what a sync would do.
    Plan {
        /// Connection.
        name: String,
    },
    /// Approve the plan waiting for approval.
    Approve {
        /// Connection.
        name: String,
    },
    /// Activity log.
    Log {
        /// Connection, or all.
        name: Option<String>,
        /// Only this action.
        action: Option<String>,
        /// At most this many rows.
        limit: usize,
    },
    /// Stream events (daemon only).
    Follow,
}

/// An answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Whether it worked.
    pub ok: bool,
    /// The data (command-specific JSON).
    #[serde(default)]
    pub data: serde_json::Value,
    /// The error message when not ok.
    #[serde(default)]
    pub error: Option<String>,
    /// The exit code a CLI should use (2: bad input, 1: failure).
    #[serde(default)]
    pub exit: i32,
}

impl Response {
    fn ok(data: impl Serialize) -> Response {
        match serde_json::to_value(data) {
            Ok(data) => Response {
                ok: true,
                data,
                error: None,
                exit: 0,
            },
            Err(e) => Response::fail(1, format!("cannot encode the answer: {e}")),
        }
    }

    fn fail(exit: i32, msg: String) -> Response {
        Response {
            ok: false,
            data: serde_json::Value::Null,
            error: Some(msg),
            exit,
        }
    }

    fn from_error(e: EngineError) -> Response {
        let exit = match e {
            EngineError::Invalid(_) | EngineError::NoSuchConnection(_) => 2,
            _ => 1,
        };
        Response::fail(exit, e.to_string())
    }
}

fn answer<T: Serialize>(r: Result<T, EngineError>) -> Response {
    match r {
        Ok(v) => Response::ok(v),
        Err(e) => Response::from_error(e),
    }
}

/// Answers a request with `engine` (in this process or in the daemon).
pub async fn handle(engine: &Engine, req: Request) -> Response {
    match req {
        Request::Add(add) => answer(engine.add_connection(add).await),
        Request::Set { name, settings } => answer(engine.set_settings(&name, settings)),
        Request::Get { name } => answer(engine.connection(&name)),
        Request::List => answer(engine.connections()),
        Request::Relinked { name } => answer(engine.relinked(&name)),
        Request::Unlink { name } => answer(engine.unlink(&name)),
        Request::Pause { name } => answer(engine.set_paused(name.as_deref(), true)),
        Request::Resume { name } => answer(engine.set_paused(name.as_deref(), false)),
        Request::Sync { name } => sync(engine, name).await,
        Request::Status => answer(engine.status()),
        Request::Skipped { name } => answer(engine.skipped(name.as_deref())),
        Request::Why { name, path } => answer(engine.why(&name, &path)),
        Request::Conflicts { name } => answer(engine.conflicts(name.as_deref())),
        Request::Resolve { name, path, choice } => answer(engine.resolve(&name, &path, choice)),
        Request::Plan { name } => answer(
            engine
                .plan(&name)
                .await
                .map(|(ops, pending)| serde_json::json!({ "ops": ops, "pending": pending })),
        ),
        Request::Approve { name } => answer(engine.approve(&name)),
        Request::Log {
            name,
            action,
            limit,
        } => {
            let action = match action.map(|a| a.parse::<Action>()).transpose() {
                Ok(a) => a,
                Err(e) => return Response::fail(2, e.to_string()),
            };
            answer(engine.log(name.as_deref(), action, limit))
        }
        Request::Follow => Response::fail(2, "follow needs a running daemon".into()),
    }
}

async fn sync(engine: &Engine, name: Option<String>) -> Response {
    let names: Vec<String> = match name {
        Some(n) => vec![n],
        None => match engine.connections() {
            Ok(cs) => cs
                .into_iter()
                .filter(|c| !c.paused)
                .map(|c| c.name)
                .collect(),
            Err(e) => return Response::from_error(e),
        },
    };
    let mut results = serde_json::Map::new();
    let mut first_error: Option<EngineError> = None;
    for n in names {
        match engine.sync_connection(&n).await {
            Ok(s) => {
                results.insert(n, serde_json::json!(s));
            }
            Err(e) => {
                results.insert(n, serde_json::json!({ "error": e.to_string() }));
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        None => Response::ok(results),
        Some(e) => {
            let mut r = Response::from_error(e);
            r.data = serde_json::Value::Object(results);
            r
        }
    }
}

/// A client of a running daemon.
pub struct Client {
    stream: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the daemon's socket; `None` when no daemon answers there.
    pub async fn connect(socket: &Path) -> Option<Client> {
        UnixStream::connect(socket).await.ok().map(|s| Client {
            stream: BufReader::new(s),
        })
    }

    /// Sends a request and reads one answer.
    ///
    /// # Errors
    /// I/O errors or an unreadable answer.
    pub async fn call(&mut self, req: &Request) -> std::io::Result<Response> {
        self.send(req).await?;
        let line = self.next_line().await?.ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "daemon closed the connection",
            )
        })?;
        serde_json::from_str(&line).map_err(std::io::Error::other)
    }

    /// Sends a request without waiting for the answer (for `follow`).
    ///
    /// # Errors
    /// I/O errors.
    pub async fn send(&mut self, req: &Request) -> std::io::Result<()> {
        let mut line = serde_json::to_string(req).map_err(std::io::Error::other)?;
        line.push('\n');
        self.stream.get_mut().write_all(line.as_bytes()).await
    }

    /// Reads the next line the daemon sends.
    ///
    /// # Errors
    /// I/O errors.
    pub async fn next_line(&mut self) -> std::io::Result<Option<String>> {
        let mut line = String::new();
        let n = self.stream.read_line(&mut line).await?;
        Ok((n > 0).then_some(line))
    }
}

/// Serves one client connection of the daemon.
pub async fn serve_client(
    engine: Arc<Engine>,
    stream: UnixStream,
    on_change: Arc<dyn Fn(&Request) + Send + Sync>,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let req: Request = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                let r = Response::fail(2, format!("bad request: {e}"));
                if write_json(&mut write, &r).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if let Request::Follow = req {
            let mut rx = engine.events().subscribe();
            loop {
                match rx.recv().await {
                    Ok(ev) => {
                        if write_json(&mut write, &ev).await.is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        }
        let resp = handle(&engine, req.clone()).await;
        if resp.ok {
            on_change(&req);
        }
        if write_json(&mut write, &resp).await.is_err() {
            return;
        }
    }
}

async fn write_json(
    w: &mut tokio::net::unix::OwnedWriteHalf,
    v: &impl Serialize,
) -> std::io::Result<()> {
    let mut line = serde_json::to_string(v).map_err(std::io::Error::other)?;
    line.push('\n');
    w.write_all(line.as_bytes()).await
}
