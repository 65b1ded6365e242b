//! Hostile names (switched on by `POST /__emulator/hostile-names`): entries a careless
//! client would turn into paths outside its sync folder, added to the first page of every
//! `list_folder` answer (not to `continue` pages). They exist only there; downloading one
//! answers `not_found`.

use serde_json::{json, Value};

use super::content_hash::content_hash;
use super::store::lower;

fn file(name: &str, path_display: &str, n: usize) -> Value {
    json!({
        ".tag": "file",
        "name": name,
        "path_lower": lower(path_display),
        "path_display": path_display,
        "id": format!("id:hostile{n:013}"),
        "client_modified": "2015-05-12T15:50:38Z",
        "server_modified": "2015-05-12T15:50:38Z",
        "rev": format!("bad{n:09x}"),
        "size": 3,
        "is_downloadable": true,
        "content_hash": content_hash(b"bad"),
    })
}

/// The hostile entries of a listing of the folder `root_display` (`""` for the root).
pub fn entries(root_display: &str) -> Vec<Value> {
    vec![
        file("..", &format!("{root_display}/.."), 1),
        file("a/b", &format!("{root_display}/a/b"), 2),
        file("back\\slash", &format!("{root_display}/back\\slash"), 3),
        file("nul\0name", &format!("{root_display}/nul\0name"), 4),
        file("passwd", "/etc/passwd", 5),
        file("/etc/shadow", &format!("{root_display}//etc/shadow"), 6),
        file(
            "../../escape.txt",
            &format!("{root_display}/../../escape.txt"),
            7,
        ),
    ]
}
