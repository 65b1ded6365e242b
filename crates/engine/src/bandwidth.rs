//! Bandwidth caps: a token bucket per direction, shared by all transfers of a connection.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A token bucket of `rate` bytes per second with one second of burst.
#[derive(Debug)]
pub struct Throttle {
    rate: u64,
    state: Mutex<(f64, Instant)>,
}

impl Throttle {
    /// A cap of `rate` bytes per second.
    pub fn new(rate: u64) -> Throttle {
        Throttle {
            rate: rate.max(1),
            state: Mutex::new((rate.max(1) as f64, Instant::now())),
        }
    }

    /// Takes `n` bytes' worth of tokens, sleeping until they are there.
    pub fn take(&self, n: usize) {
        let wait = {
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            let now = Instant::now();
            let rate = self.rate as f64;
            let refill = now.duration_since(st.1).as_secs_f64() * rate;
            st.0 = (st.0 + refill).min(rate);
            st.1 = now;
            st.0 -= n as f64;
            if st.0 < 0.0 {
                Duration::from_secs_f64(-st.0 / rate)
            } else {
                Duration::ZERO
            }
        };
        if !wait.is_zero() {
            // Transfers run their blocking I/O on the calling thread; sleeping here is what
            // spaces the bytes out.
            std::thread::sleep(wait);
        }
    }
}

/// A reader limited by an optional throttle.
pub struct ThrottledReader<R> {
    inner: R,
    throttle: Option<Arc<Throttle>>,
}

impl<R> ThrottledReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, throttle: Option<Arc<Throttle>>) -> Self {
        ThrottledReader { inner, throttle }
    }
}

impl<R: Read> Read for ThrottledReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Small reads keep the pacing smooth when a cap is set.
        let len = if self.throttle.is_some() {
            buf.len().min(64 * 1024)
        } else {
            buf.len()
        };
        let n = self.inner.read(&mut buf[..len])?;
        if let Some(t) = &self.throttle {
            t.take(n);
        }
        Ok(n)
    }
}

/// A writer limited by an optional throttle.
pub struct ThrottledWriter<W> {
    inner: W,
    throttle: Option<Arc<Throttle>>,
}

impl<W> ThrottledWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W, throttle: Option<Arc<Throttle>>) -> Self {
        ThrottledWriter { inner, throttle }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for ThrottledWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = if self.throttle.is_some() {
            buf.len().min(64 * 1024)
        } else {
            buf.len()
        };
        let n = self.inner.write(&buf[..len])?;
        if let Some(t) = &self.throttle {
            t.take(n);
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
