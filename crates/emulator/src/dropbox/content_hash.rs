//! Dropbox's `content_hash`: SHA-256 over the concatenated SHA-256 digests of the content's
//! 4 MiB blocks (an empty file has no block, so its hash is SHA-256 of nothing).

use sha2::{Digest, Sha256};

/// Block size of the hash: 4 MiB.
pub const BLOCK: usize = 4 * 1024 * 1024;

/// The lowercase hex `content_hash` of `data`.
pub fn content_hash(data: &[u8]) -> String {
    let mut overall = Sha256::new();
    for block in data.chunks(BLOCK) {
        overall.update(Sha256::digest(block));
    }
    hex(&overall.finalize())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_of_the_reference() {
        // provider-apis.md 1.5: the empty file, "abc", and runs of zero bytes around the
        // 4 MiB block boundary.
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            content_hash(b"abc"),
            "4f8b42c22dd3729b519ba6f68d2da7cc5b2d606d05daed5ad5128cc03e6c6358"
        );
        assert_eq!(
            content_hash(&vec![0u8; BLOCK]),
            "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58"
        );
        assert_eq!(
            content_hash(&vec![0u8; BLOCK + 1]),
            "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6"
        );
        assert_eq!(
            content_hash(&vec![0u8; 2 * BLOCK]),
            "03ae066c707c588592d9e27aa2444ca98423e0999024f1ceaa11a153790b37de"
        );
    }

    #[test]
    fn official_block_digests_combine_to_the_official_result() {
        // The milky-way-nasa.jpg vector: the file is not here, its three block digests are.
        let blocks = [
            "2a846fa617c3361fc117e1c5c1e1838c336b6a5cef982c1a2d9bdf68f2f1992a",
            "c68469027410ea393eba6551b9fa1e26db775f00eae70a0c3c129a0011a39cf9",
            "7376192de020925ce6c5ef5a8a0405e931b0a9a8c75517aacd9ca24a8a56818b",
        ];
        let mut overall = Sha256::new();
        for b in blocks {
            let bytes: Vec<u8> = (0..b.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&b[i..i + 2], 16).expect("hex"))
                .collect();
            overall.update(bytes);
        }
        assert_eq!(
            hex(&overall.finalize()),
            "485291fa0ee50c016982abbfa943957bcd231aae0492ccbaa22c58e3997b35e0"
        );
    }
}
