//! Content hashing while data streams through, in the kind the remote reports, so local and
//! remote hashes compare: `sha256:hex` (our own), `dropbox:hex` (Dropbox's content_hash:
//! SHA-256 of the concatenated SHA-256s of 4 MiB blocks) or `md5:hex` (Google Drive's
//! md5Checksum).

use std::io::{self, Read, Write};

use md5::Md5;
use sha2::{Digest, Sha256};

/// The hash kind the engine computes when the remote reports none it knows.
pub const LOCAL_HASH_KIND: &str = "sha256";

/// Dropbox hashes content in blocks of this size.
const DROPBOX_BLOCK: usize = 4 * 1024 * 1024;

/// A hash kind the engine can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashKind {
    /// SHA-256 of the content.
    #[default]
    Sha256,
    /// Dropbox's content_hash.
    Dropbox,
    /// MD5 of the content.
    Md5,
}

impl HashKind {
    /// The kind to compute for a remote reporting `remote_kind`: the same where the engine
    /// can compute it (so equal content is recognised on both sides), else SHA-256.
    pub fn for_remote(remote_kind: Option<&str>) -> HashKind {
        match remote_kind {
            Some("dropbox") => HashKind::Dropbox,
            Some("md5") => HashKind::Md5,
            _ => HashKind::Sha256,
        }
    }

    /// The name in front of the `:` of a formatted hash.
    pub fn name(self) -> &'static str {
        match self {
            HashKind::Sha256 => "sha256",
            HashKind::Dropbox => "dropbox",
            HashKind::Md5 => "md5",
        }
    }

    /// True when `hash` (formatted `kind:hex`) is of this kind.
    pub fn is_kind_of(self, hash: &str) -> bool {
        hash.split_once(':').is_some_and(|(k, _)| k == self.name())
    }
}

/// A running hash of one kind.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256.
    Sha256(Sha256),
    /// Dropbox content_hash: the finished block hashes, and the block being filled.
    Dropbox {
        /// SHA-256 over the block digests so far.
        outer: Sha256,
        /// The current block's SHA-256.
        block: Sha256,
        /// Bytes in the current block.
        filled: usize,
    },
    /// MD5.
    Md5(Md5),
}

impl Hasher {
    /// A fresh hash of `kind`.
    pub fn new(kind: HashKind) -> Hasher {
        match kind {
            HashKind::Sha256 => Hasher::Sha256(Sha256::new()),
            HashKind::Dropbox => Hasher::Dropbox {
                outer: Sha256::new(),
                block: Sha256::new(),
                filled: 0,
            },
            HashKind::Md5 => Hasher::Md5(Md5::new()),
        }
    }

    /// Adds data.
    pub fn update(&mut self, mut data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Md5(h) => h.update(data),
            Hasher::Dropbox {
                outer,
                block,
                filled,
            } => {
                while !data.is_empty() {
                    let take = (DROPBOX_BLOCK - *filled).min(data.len());
                    block.update(&data[..take]);
                    *filled += take;
                    data = &data[take..];
                    if *filled == DROPBOX_BLOCK {
                        outer.update(std::mem::take(block).finalize());
                        *filled = 0;
                    }
                }
            }
        }
    }

    /// The finished hash as `kind:hex`.
    pub fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => format_hash("sha256", &h.finalize()),
            Hasher::Md5(h) => format_hash("md5", &h.finalize()),
            Hasher::Dropbox {
                mut outer,
                block,
                filled,
            } => {
                if filled > 0 {
                    outer.update(block.finalize());
                }
                format_hash("dropbox", &outer.finalize())
            }
        }
    }
}

fn format_hash(kind: &str, digest: &[u8]) -> String {
    let mut s = String::with_capacity(kind.len() + 1 + digest.len() * 2);
    s.push_str(kind);
    s.push(':');
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Formats a finished SHA-256 digest as `sha256:hex`.
pub fn format_sha256(digest: &[u8]) -> String {
    format_hash("sha256", digest)
}

/// Hashes everything read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`, hashing with SHA-256.
    pub fn new(inner: R) -> Self {
        Self::with_kind(inner, HashKind::Sha256)
    }

    /// Wraps `inner`, hashing with `kind`.
    pub fn with_kind(inner: R, kind: HashKind) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(kind),
            bytes: 0,
        }
    }

    /// The hash and byte count of what was read.
    pub fn finish(self) -> (String, u64) {
        (self.hasher.finish(), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Hashes everything written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`, hashing with SHA-256.
    pub fn new(inner: W) -> Self {
        Self::with_kind(inner, HashKind::Sha256)
    }

    /// Wraps `inner`, hashing with `kind`.
    pub fn with_kind(inner: W, kind: HashKind) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(kind),
            bytes: 0,
        }
    }

    /// The inner writer, the hash and the byte count of what was written.
    pub fn finish(self) -> (W, String, u64) {
        (self.inner, self.hasher.finish(), self.bytes)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Hashes a whole reader with SHA-256.
///
/// # Errors
/// The read error.
pub fn hash_reader(r: impl Read) -> io::Result<(String, u64)> {
    hash_reader_as(r, HashKind::Sha256)
}

/// Hashes a whole reader with `kind`.
///
/// # Errors
/// The read error.
pub fn hash_reader_as(r: impl Read, kind: HashKind) -> io::Result<(String, u64)> {
    let mut h = HashingReader::with_kind(r, kind);
    io::copy(&mut h, &mut io::sink())?;
    Ok(h.finish())
}

/// Hashes bytes with SHA-256.
pub fn hash_bytes(data: &[u8]) -> String {
    format_sha256(&Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            hash_bytes(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let (h, n) = hash_reader(&b"abc"[..]).expect("in-memory read");
        assert_eq!((h.as_str(), n), (hash_bytes(b"abc").as_str(), 3));
    }

    #[test]
    fn md5_vector() {
        // RFC 1321's test suite.
        let (h, _) = hash_reader_as(&b"abc"[..], HashKind::Md5).expect("read");
        assert_eq!(h, "md5:900150983cd24fb0d6963f7d28e17f72");
    }

    #[test]
    fn dropbox_content_hash_is_a_hash_of_block_hashes() {
        // Dropbox's definition, spelled out independently of the streaming code: split into
        // 4 MiB blocks, SHA-256 each, SHA-256 the concatenated digests. Sizes around the
        // block boundary and reads of odd lengths exercise the block bookkeeping.
        for size in [
            0usize,
            1,
            DROPBOX_BLOCK - 1,
            DROPBOX_BLOCK,
            DROPBOX_BLOCK + 1,
            2 * DROPBOX_BLOCK + 7,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let mut outer = Sha256::new();
            for block in data.chunks(DROPBOX_BLOCK) {
                outer.update(Sha256::digest(block));
            }
            let expected = format_hash("dropbox", &outer.finalize());
            let mut h = Hasher::new(HashKind::Dropbox);
            for piece in data.chunks(1_000_003) {
                h.update(piece);
            }
            assert_eq!(h.finish(), expected, "size {size}");
        }
    }

    #[test]
    fn dropbox_reference_vectors() {
        // The vectors in reference/provider-apis.md 1.5 (plain MD5s in the same table).
        let zeros = |n: usize| vec![0u8; n];
        let cases: [(Vec<u8>, &str, &str); 4] = [
            (
                b"abc".to_vec(),
                "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358",
                "900150983cd24fb0d6963f7d28e17f72",
            ),
            (
                zeros(DROPBOX_BLOCK),
                "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58",
                "b5cfa9d6c8febd618f91ac2843d50a1c",
            ),
            (
                zeros(DROPBOX_BLOCK + 1),
                "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6",
                "0512b81efac65efad48880543d4d60af",
            ),
            (
                zeros(2 * DROPBOX_BLOCK),
                "03ae066c707c588592d9e27aa2444ca98423e0999024f1ceaa11a153790b37de",
                "96995b58d4cbf6aaa9041b4f00c7f6ae",
            ),
        ];
        for (data, dropbox, md5) in cases {
            let (d, _) = hash_reader_as(&data[..], HashKind::Dropbox).expect("read");
            assert_eq!(d, format!("dropbox:{dropbox}"), "{} bytes", data.len());
            let (m, _) = hash_reader_as(&data[..], HashKind::Md5).expect("read");
            assert_eq!(m, format!("md5:{md5}"), "{} bytes", data.len());
        }
    }

    #[test]
    fn the_empty_dropbox_hash_is_the_hash_of_nothing() {
        // No blocks: SHA-256 of the empty concatenation.
        assert_eq!(
            Hasher::new(HashKind::Dropbox).finish(),
            "dropbox:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn kinds_follow_the_remote() {
        assert_eq!(HashKind::for_remote(Some("dropbox")), HashKind::Dropbox);
        assert_eq!(HashKind::for_remote(Some("md5")), HashKind::Md5);
        assert_eq!(HashKind::for_remote(None), HashKind::Sha256);
        assert_eq!(HashKind::for_remote(Some("etag")), HashKind::Sha256);
        assert!(HashKind::Md5.is_kind_of("md5:00"));
        assert!(!HashKind::Md5.is_kind_of("sha256:00"));
    }
}
