//! `list_folder` cursors: an opaque base64url token carrying the account, the listed folder,
//! the change-log position and, while the first listing is still paging, the last path
//! returned. A cursor from another emulator epoch (see `reset-cursors`) is `reset`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// What a cursor remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The account it belongs to.
    #[serde(rename = "a")]
    pub account: String,
    /// The listed folder, lowercased (`""` for the root).
    #[serde(rename = "r")]
    pub root: String,
    /// Recursive listing.
    #[serde(rename = "c")]
    pub recursive: bool,
    /// Change-log position: changes after it are news.
    #[serde(rename = "s")]
    pub seq: u64,
    /// While the first listing pages: the last path returned.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Entries per page.
    #[serde(rename = "l")]
    pub limit: usize,
    /// The cursor epoch it was issued in.
    #[serde(rename = "e")]
    pub epoch: u64,
}

impl Cursor {
    /// The token.
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a token; `None` when it is not one of ours or from another epoch.
    pub fn decode(token: &str, epoch: u64) -> Option<Cursor> {
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .ok()?;
        let c: Cursor = serde_json::from_slice(&json).ok()?;
        (c.epoch == epoch).then_some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_garbage_and_old_epochs() {
        let c = Cursor {
            account: "ann".into(),
            root: "/x".into(),
            recursive: true,
            seq: 7,
            after: Some("/x/a".into()),
            limit: 10,
            epoch: 0,
        };
        assert_eq!(Cursor::decode(&c.encode(), 0), Some(c.clone()));
        assert_eq!(Cursor::decode(&c.encode(), 1), None);
        assert_eq!(
            Cursor::decode("ZtkX9_EHj3x7PMkVuFIhwKYXEpwpLwyxp9vMKomUhllil9q7eWiAu", 0),
            None
        );
    }
}
