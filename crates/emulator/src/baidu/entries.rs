//! How entries look in answers: `list`/`listall` items, `filemetas` items, and the hostile
//! items listings also carry when hostile-names mode is on.

use serde_json::{json, Value};

use super::store::{join, Entry};

/// Baidu's category of a file by extension (1 video, 2 audio, 3 picture, 4 document,
/// 5 application, 6 other, 7 torrent); folders are 6.
pub fn category(e: &Entry) -> u32 {
    if e.isdir {
        return 6;
    }
    let name = e.name().to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, x)| x).unwrap_or_default();
    match ext {
        "mp4" | "mkv" | "avi" | "mov" | "wmv" | "flv" => 1,
        "mp3" | "flac" | "wav" | "aac" | "ogg" => 2,
        "jpg" | "jpeg" | "png" | "gif" | "bmp" | "webp" | "heic" => 3,
        "txt" | "doc" | "docx" | "pdf" | "xls" | "xlsx" | "ppt" | "pptx" | "md" => 4,
        "exe" | "apk" | "dmg" | "msi" => 5,
        "torrent" => 7,
        _ => 6,
    }
}

/// The MD5 as Baidu's listings spell it: the four 8-digit groups reordered
/// (`[8..16] [0..8] [24..32] [16..24]`), each digit XORed with its position's low four
/// bits, and the tenth digit moved into `g..v` so the whole is no longer hex (the form
/// OpenList's `DecryptMd5` undoes). Clients must not read it as a content hash.
pub fn obfuscated_md5(md5: &str) -> String {
    if md5.len() != 32 || !md5.is_ascii() {
        return md5.to_string();
    }
    let reordered = [&md5[8..16], &md5[..8], &md5[24..32], &md5[16..24]].concat();
    reordered
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let n = c.to_digit(16).unwrap_or(0) ^ (i as u32 & 15);
            if i == 9 {
                char::from(b'g' + n as u8)
            } else {
                char::from_digit(n, 16).unwrap_or('0')
            }
        })
        .collect()
}

/// A `list` / `listall` item; `dir_empty` says whether a folder has no children.
pub fn list_item(e: &Entry, dir_empty: bool) -> Value {
    let mut v = json!({
        "fs_id": e.fs_id,
        "path": e.path,
        "server_filename": e.name(),
        "size": e.size(),
        "isdir": u8::from(e.isdir),
        "category": category(e),
        "server_mtime": e.server_mtime,
        "server_ctime": e.server_ctime,
        "local_mtime": e.local_mtime,
        "local_ctime": e.local_ctime,
        "oper_id": 0,
        "owner_id": 0,
        "share": 0,
        "unlist": 0,
        "wpfile": 0,
        "pl": 0,
        "server_atime": 0,
    });
    if let Some(map) = v.as_object_mut() {
        if e.isdir {
            map.insert("dir_empty".into(), json!(u8::from(dir_empty)));
            map.insert("empty".into(), json!(0));
        } else {
            map.insert("md5".into(), json!(obfuscated_md5(&e.md5)));
        }
    }
    v
}

/// A `filemetas` item; `dlink` when asked for (files only).
pub fn meta_item(e: &Entry, dlink: Option<String>) -> Value {
    let mut v = json!({
        "fs_id": e.fs_id,
        "filename": e.name(),
        "path": e.path,
        "size": e.size(),
        "isdir": u8::from(e.isdir),
        "category": category(e),
        "server_mtime": e.server_mtime,
        "server_ctime": e.server_ctime,
        "local_mtime": e.local_mtime,
        "local_ctime": e.local_ctime,
        "oper_id": 0,
    });
    if let Some(map) = v.as_object_mut() {
        if !e.isdir {
            map.insert("md5".into(), json!(e.md5));
        }
        if let Some(d) = dlink {
            map.insert("dlink".into(), json!(d));
        }
    }
    v
}

/// Items no honest server sends, for listing `dir`: `..`, a `/` and a `\` inside a
/// server_filename, a NUL, a path outside the listed folder, and a path climbing out with
/// `..` components.
pub fn hostile_items(dir: &str) -> Vec<Value> {
    let item = |i: u64, path: String, name: &str| {
        json!({
            "fs_id": 900_000_000_000_000u64 + i,
            "path": path,
            "server_filename": name,
            "size": 6,
            "isdir": 0,
            "category": 6,
            "md5": "0cc175b9c0f1b6a831c399e269772661",
            "server_mtime": 1_700_000_000,
            "server_ctime": 1_700_000_000,
            "local_mtime": 1_700_000_000,
            "local_ctime": 1_700_000_000,
            "oper_id": 0,
            "owner_id": 0,
            "share": 0,
            "unlist": 0,
        })
    };
    vec![
        item(1, join(dir, ".."), ".."),
        item(2, join(dir, "a/b"), "a/b"),
        item(3, join(dir, "a\\b"), "a\\b"),
        item(4, join(dir, "nul\0name"), "nul\0name"),
        item(5, "/etc/passwd".into(), "passwd"),
        item(6, join(dir, "../../escape.txt"), "escape.txt"),
        item(7, join(dir, "x"), "/etc/shadow"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OpenList's `DecryptMd5`, restated: the inverse the real clients apply.
    fn plain(obfuscated: &str) -> String {
        let digits: String = obfuscated
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let n = if i == 9 {
                    (c.to_ascii_lowercase() as u32).wrapping_sub('g' as u32)
                } else {
                    c.to_digit(16).unwrap_or(0)
                };
                char::from_digit(n ^ (i as u32 & 15), 16).unwrap_or('?')
            })
            .collect();
        [
            &digits[8..16],
            &digits[..8],
            &digits[24..32],
            &digits[16..24],
        ]
        .concat()
    }

    #[test]
    fn listed_md5s_are_obfuscated_the_way_clients_undo() {
        let md5 = "0cc175b9c0f1b6a831c399e269772661";
        let shown = obfuscated_md5(md5);
        assert_eq!(shown.len(), 32);
        assert!(!shown.chars().all(|c| c.is_ascii_hexdigit()), "{shown}");
        assert_eq!(plain(&shown), md5);
    }
}
