//! `Dropbox-API-Arg` values: JSON made "HTTP header safe" as Dropbox's JSON-encoding page
//! asks: 0x7F and every non-ASCII character written as `\uXXXX`, characters beyond the BMP
//! as UTF-16 surrogate pairs (one escape per code unit, never a 5-digit escape).

use serde_json::Value;

/// `value` as header-safe JSON.
pub fn header_safe_json(value: &Value) -> String {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if (c as u32) < 0x7f {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_json_encoding_page_example() {
        let v = json!({"field": "some_üñîcødé_and_\u{7f}"});
        assert_eq!(
            header_safe_json(&v),
            r#"{"field":"some_\u00fc\u00f1\u00eec\u00f8d\u00e9_and_\u007f"}"#
        );
    }

    #[test]
    fn astral_characters_become_surrogate_pairs_that_decode_back() {
        let v = json!({"path": "/\u{1F600} 中.txt"});
        let s = header_safe_json(&v);
        assert_eq!(s, r#"{"path":"/\ud83d\ude00 \u4e2d.txt"}"#);
        assert!(s.is_ascii());
        let back: Value = serde_json::from_str(&s).expect("valid JSON");
        assert_eq!(back, v);
    }
}
