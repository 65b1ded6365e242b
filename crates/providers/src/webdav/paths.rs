//! Mapping between [`RelPath`]s and the server's URLs: every segment percent-encoded on
//! the way out (only RFC 3986 unreserved characters stay), hrefs decoded on the way in.

use cloudsync_core::RelPath;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Url;

use super::WebDav;

/// Everything but the unreserved characters (RFC 3986) is escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A spelling of any name that is a valid path component (dots and slashes escaped too).
pub(super) fn enc_all(name: &str) -> String {
    utf8_percent_encode(name, NON_ALPHANUMERIC).to_string()
}

pub(super) fn enc(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

impl WebDav {
    /// The URL of `rel` below the root (`None`: the root), with a trailing `/` for folders.
    pub(super) fn url(&self, rel: Option<&RelPath>, dir: bool) -> Url {
        let mut path = self.root.path().trim_end_matches('/').to_string();
        if let Some(rel) = rel {
            for c in rel.components() {
                path.push('/');
                path.push_str(&enc(c));
            }
        }
        if dir || path.is_empty() {
            path.push('/');
        }
        let mut u = self.root.clone();
        u.set_path(&path);
        u
    }

    /// The decoded path segments of `href` below the root (`Err(raw)` for a segment that
    /// is not UTF-8 once decoded); `None` when it lies outside the root.
    pub(super) fn relative_segments(&self, href: &str) -> Option<Vec<Result<String, String>>> {
        let path = match href.find("://") {
            Some(i) => {
                let rest = &href[i + 3..];
                rest.find('/').map_or("/", |j| &rest[j..])
            }
            None => href,
        };
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segs: Vec<Result<String, String>> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_decode_str(s)
                    .decode_utf8()
                    .map(|d| d.into_owned())
                    .map_err(|_| s.to_string())
            })
            .collect();
        let n = self.root_segments.len();
        if segs.len() < n
            || !segs[..n]
                .iter()
                .zip(&self.root_segments)
                .all(|(a, b)| a.as_ref().is_ok_and(|a| a == b))
        {
            return None;
        }
        Some(segs.split_off(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_escape_every_reserved_character() {
        let d = WebDav::new("http://127.0.0.1:1/a%20b/root", "u", None, "").expect("valid");
        assert_eq!(d.root_segments, vec!["a b".to_string(), "root".to_string()]);
        let p = RelPath::new("x y/100% #1?&+'é😀").expect("valid path");
        let u = d.url(Some(&p), false);
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:1/a%20b/root/x%20y/100%25%20%231%3F%26%2B%27%C3%A9%F0%9F%98%80"
        );
        let segs = d
            .relative_segments(
                "http://127.0.0.1:1/a%20b/root/x%20y/100%25%20%231%3F%26%2B%27%C3%A9%F0%9F%98%80",
            )
            .expect("below the root");
        assert_eq!(
            segs,
            vec![Ok("x y".to_string()), Ok("100% #1?&+'é😀".to_string())]
        );
        assert_eq!(d.relative_segments("/a b/root/"), Some(Vec::new()));
        assert_eq!(
            d.relative_segments("/a%20b/root/bad%FF"),
            Some(vec![Err("bad%FF".to_string())])
        );
        assert_eq!(d.relative_segments("/elsewhere/x"), None);
        assert_eq!(d.url(None, true).as_str(), "http://127.0.0.1:1/a%20b/root/");
    }
}
