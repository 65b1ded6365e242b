//! A remote factory that wraps the real providers and can make a transfer stall forever
//! after a number of bytes, so the runner can drop a sync in the middle of a transfer:
//! what is on disk then is what a killed process leaves behind. It can also make every
//! transfer take a while (as on a network) and count how many run at once, and it can
//! refuse to create chosen names (as a server whose storage cannot hold them).

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cloudsync_core::{Capabilities, Node, RelPath, Tree};
use cloudsync_engine::remote::{Listing, Remote, RemoteError, RemoteFactory};
use tokio::sync::Notify;

/// Shared switch: when armed with N, the first transfer to pass N bytes stalls.
#[derive(Debug, Default)]
pub struct Faults {
    /// 0: off; else the byte count after which a transfer stalls.
    stall_after: AtomicU64,
    /// Notified once a transfer stalled.
    pub stalled: Notify,
    /// Milliseconds every transfer waits before it starts (0: none).
    pub transfer_delay_ms: AtomicU64,
    /// Transfers running now.
    in_flight: AtomicUsize,
    /// The most transfers seen running at once.
    pub max_in_flight: AtomicUsize,
    /// The remote refuses to create anything whose path contains one of these.
    refused: std::sync::Mutex<Vec<String>>,
}

impl Faults {
    /// Arms the stall (N > 0).
    pub fn arm(&self, after: u64) {
        self.stall_after.store(after.max(1), Ordering::SeqCst);
    }

    /// From now on the remote refuses to create paths containing `text`.
    pub fn refuse(&self, text: &str) {
        if let Ok(mut r) = self.refused.lock() {
            r.push(text.to_string());
        }
    }

    /// The error a refused `path` gets (a permanent one, as a server refusing a name).
    fn refusal(&self, path: &RelPath) -> Result<(), RemoteError> {
        let refused = self.refused.lock().map(|r| r.clone()).unwrap_or_default();
        match refused.iter().find(|t| path.as_str().contains(t.as_str())) {
            Some(t) => Err(RemoteError::Other(format!(
                "scenario: the server refuses {path} (it contains {t:?})"
            ))),
            None => Ok(()),
        }
    }

    /// Disarms it.
    pub fn disarm(&self) {
        self.stall_after.store(0, Ordering::SeqCst);
    }

    fn armed(&self) -> Option<u64> {
        match self.stall_after.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }

    /// Runs a transfer, counting it as in flight and applying the delay.
    async fn metered<T>(&self, transfer: impl std::future::Future<Output = T>) -> T {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let delay = self.transfer_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let out = transfer.await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }

    /// Called by a transfer that reached the limit: signals and never returns.
    async fn stall(&self) -> ! {
        self.disarm();
        self.stalled.notify_one();
        loop {
            futures::future::pending::<()>().await;
        }
    }
}

/// Builds the real providers' remotes, wrapped in [`Faulty`].
pub struct FaultyFactory {
    /// The switch shared with the runner.
    pub faults: Arc<Faults>,
}

impl RemoteFactory for FaultyFactory {
    fn open(
        &self,
        provider: &str,
        config: &serde_json::Value,
    ) -> Result<Arc<dyn Remote>, RemoteError> {
        let inner = cloudsync_providers::Factory.open(provider, config)?;
        Ok(Arc::new(Faulty {
            inner,
            faults: self.faults.clone(),
        }))
    }
}

/// A remote that passes everything through, except armed transfers.
pub struct Faulty {
    inner: Arc<dyn Remote>,
    faults: Arc<Faults>,
}

struct LimitWriter<'a> {
    inner: &'a mut (dyn Write + Send),
    left: u64,
    hit: bool,
}

impl Write for LimitWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            self.hit = true;
            return Err(io::Error::other("scenario: transfer stalled"));
        }
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.write(&buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct LimitReader<'a> {
    inner: &'a mut (dyn Read + Send),
    left: u64,
    hit: bool,
}

impl Read for LimitReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            self.hit = true;
            return Err(io::Error::other("scenario: transfer stalled"));
        }
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.inner.read(&mut buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[async_trait]
impl Remote for Faulty {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn check_root(&self) -> Result<(), RemoteError> {
        self.inner.check_root().await
    }

    async fn list(&self, previous: &Tree) -> Result<Listing, RemoteError> {
        self.inner.list(previous).await
    }

    async fn download(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        self.faults.metered(self.download_limited(node, sink)).await
    }

    async fn upload(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        self.faults.refusal(path)?;
        self.faults
            .metered(self.upload_limited(path, source, size, mtime_ns, replaces))
            .await
    }

    async fn mkdir(&self, path: &RelPath) -> Result<Node, RemoteError> {
        self.faults.refusal(path)?;
        self.inner.mkdir(path).await
    }

    async fn rename(&self, node: &Node, to: &RelPath) -> Result<Node, RemoteError> {
        self.inner.rename(node, to).await
    }

    async fn delete(&self, node: &Node) -> Result<(), RemoteError> {
        self.inner.delete(node).await
    }

    async fn prepare_root(&self) -> Result<(), RemoteError> {
        self.inner.prepare_root().await
    }

    async fn flush(&self) -> Result<(), RemoteError> {
        self.inner.flush().await
    }
}

impl Faulty {
    async fn download_limited(
        &self,
        node: &Node,
        sink: &mut (dyn Write + Send),
    ) -> Result<u64, RemoteError> {
        let Some(limit) = self.faults.armed().filter(|&n| n < node.size) else {
            return self.inner.download(node, sink).await;
        };
        let mut w = LimitWriter {
            inner: sink,
            left: limit,
            hit: false,
        };
        let result = self.inner.download(node, &mut w).await;
        if w.hit {
            let _ = w.flush();
            self.faults.stall().await;
        }
        result
    }

    async fn upload_limited(
        &self,
        path: &RelPath,
        source: &mut (dyn Read + Send),
        size: u64,
        mtime_ns: i64,
        replaces: Option<&Node>,
    ) -> Result<Node, RemoteError> {
        let Some(limit) = self.faults.armed().filter(|&n| n < size) else {
            return self
                .inner
                .upload(path, source, size, mtime_ns, replaces)
                .await;
        };
        let mut r = LimitReader {
            inner: source,
            left: limit,
            hit: false,
        };
        let result = self
            .inner
            .upload(path, &mut r, size, mtime_ns, replaces)
            .await;
        if r.hit {
            self.faults.stall().await;
        }
        result
    }
}
