//! Dropbox's `content_hash`, computed while bytes stream through: SHA-256 of the
//! concatenated SHA-256 digests of 4 MiB blocks (the empty file has no block).

use sha2::{Digest, Sha256};

/// Block size: 4 MiB.
pub const BLOCK: usize = 4 * 1024 * 1024;

/// A streaming content hasher.
#[derive(Debug, Clone, Default)]
pub struct ContentHasher {
    overall: Sha256,
    block: Sha256,
    in_block: usize,
}

impl ContentHasher {
    /// A hasher with nothing fed yet.
    pub fn new() -> ContentHasher {
        ContentHasher::default()
    }

    /// Feeds bytes.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let take = (BLOCK - self.in_block).min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take;
            data = &data[take..];
            if self.in_block == BLOCK {
                let digest = std::mem::take(&mut self.block).finalize();
                self.overall.update(digest);
                self.in_block = 0;
            }
        }
    }

    /// The lowercase hex hash.
    pub fn finish(mut self) -> String {
        if self.in_block > 0 {
            let digest = self.block.finalize();
            self.overall.update(digest);
        }
        self.overall
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The hash of `data` in one go.
pub fn content_hash(data: &[u8]) -> String {
    let mut h = ContentHasher::new();
    h.update(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors_in_any_chunking() {
        // provider-apis.md 1.5.
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            content_hash(b"abc"),
            "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358"
        );
        let cases = [
            (
                BLOCK,
                "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58",
            ),
            (
                BLOCK + 1,
                "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6",
            ),
            (
                2 * BLOCK,
                "03ae066c707c588592d9e27aa2444ca98423e0999024f1ceaa11a153790b37de",
            ),
        ];
        for (len, want) in cases {
            let data = vec![0u8; len];
            assert_eq!(content_hash(&data), want);
            // Fed in odd pieces that straddle the block boundary.
            let mut h = ContentHasher::new();
            for piece in data.chunks(BLOCK - 1) {
                h.update(piece);
            }
            assert_eq!(h.finish(), want);
        }
    }
}
