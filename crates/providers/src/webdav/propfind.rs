//! Parsing a WebDAV `207 Multi-Status` PROPFIND answer.
//!
//! The parser is prefix-agnostic (servers write `D:`, `d:` or a default namespace): it
//! matches element local names only.

use quick_xml::events::Event;
use quick_xml::Reader;

/// The PROPFIND request body: only the properties a sync needs.
pub const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/><D:getlastmodified/><D:getetag/></D:prop></D:propfind>"#;

/// One `<response>` of a multistatus answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// The href as sent (still percent-encoded; a path or an absolute URL).
    pub href: String,
    /// `<resourcetype><collection/></resourcetype>`.
    pub is_collection: bool,
    /// `getcontentlength`.
    pub size: Option<u64>,
    /// `getlastmodified` as nanoseconds since the Unix epoch.
    pub mtime_ns: Option<i64>,
    /// `getetag`, quoted as in an `ETag` header (see [`normalize_etag`]).
    pub etag: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    None,
    Href,
    Length,
    Modified,
    Etag,
    Status,
}

/// Parses a multistatus body into its entries. Properties from a propstat whose status is
/// not 2xx are ignored.
///
/// # Errors
/// A message when the XML is malformed.
pub fn parse_multistatus(xml: &str) -> Result<Vec<Entry>, String> {
    let mut reader = Reader::from_str(xml);
    let mut out = Vec::new();
    let mut cur: Option<Entry> = None;
    // Properties of the current propstat, applied when its status is known to be 2xx.
    let mut prop = Entry::default();
    let mut in_propstat = false;
    let mut in_resourcetype = false;
    let mut field = Field::None;
    let mut text = String::new();
    let mut propstat_status = String::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("bad PROPFIND XML: {e}"))?;
        match ev {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                match name {
                    "response" => {
                        cur = Some(Entry::default());
                    }
                    "propstat" => {
                        in_propstat = true;
                        prop = Entry::default();
                        propstat_status.clear();
                    }
                    "resourcetype" => in_resourcetype = true,
                    "collection" if in_resourcetype => prop.is_collection = true,
                    "href" if !in_propstat => start(&mut field, &mut text, Field::Href),
                    "getcontentlength" => start(&mut field, &mut text, Field::Length),
                    "getlastmodified" => start(&mut field, &mut text, Field::Modified),
                    "getetag" => start(&mut field, &mut text, Field::Etag),
                    "status" if in_propstat => start(&mut field, &mut text, Field::Status),
                    _ => {}
                }
            }
            Event::End(e) => {
                let name = e.local_name();
                match name.as_ref() {
                    "response" => {
                        if let Some(c) = cur.take() {
                            out.push(c);
                        }
                    }
                    "propstat" => {
                        in_propstat = false;
                        let ok = propstat_status.is_empty()
                            || propstat_status
                                .split_whitespace()
                                .nth(1)
                                .is_some_and(|c| c.starts_with('2'));
                        if let (true, Some(c)) = (ok, cur.as_mut()) {
                            c.is_collection |= prop.is_collection;
                            c.size = c.size.or(prop.size);
                            c.mtime_ns = c.mtime_ns.or(prop.mtime_ns);
                            c.etag = c.etag.take().or(prop.etag.take());
                        }
                    }
                    "resourcetype" => in_resourcetype = false,
                    "href" | "getcontentlength" | "getlastmodified" | "getetag" | "status"
                        if field != Field::None =>
                    {
                        let value = text.trim().to_string();
                        match field {
                            Field::Href => {
                                if let Some(c) = cur.as_mut() {
                                    c.href = value;
                                }
                            }
                            Field::Length => prop.size = value.parse().ok(),
                            Field::Modified => {
                                prop.mtime_ns =
                                    httpdate::parse_http_date(&value).ok().and_then(|t| {
                                        t.duration_since(std::time::UNIX_EPOCH)
                                            .ok()
                                            .and_then(|d| i64::try_from(d.as_nanos()).ok())
                                    });
                            }
                            Field::Etag => prop.etag = normalize_etag(&value),
                            Field::Status => propstat_status = value,
                            Field::None => {}
                        }
                        field = Field::None;
                    }
                    _ => {}
                }
            }
            Event::Text(t) if field != Field::None => text.push_str(&t.into_inner()),
            Event::CData(t) if field != Field::None => text.push_str(&t.into_inner()),
            Event::GeneralRef(r) if field != Field::None => {
                crate::xml_text::push_reference(&mut text, r)?
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// An entity tag in its header form: some servers (WsgiDAV) send `getetag` without the
/// quotes their `ETag` header has, so a bare value is quoted; `None` for an empty one.
pub fn normalize_etag(raw: &str) -> Option<String> {
    let t = raw.trim();
    if t.is_empty() {
        None
    } else if t.starts_with('"') || t.starts_with("W/\"") {
        Some(t.to_string())
    } else {
        Some(format!("\"{t}\""))
    }
}

/// True when two entity tags name the same version (weak comparison, RFC 9110 8.8.3.2).
pub fn same_etag(a: &str, b: &str) -> bool {
    let bare = |s: &str| -> String {
        let s = s.trim();
        normalize_etag(s.strip_prefix("W/").unwrap_or(s)).unwrap_or_default()
    };
    bare(a) == bare(b)
}

fn start(field: &mut Field, text: &mut String, f: Field) {
    *field = f;
    text.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rclone_style_and_other_prefixes() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/</D:href><D:propstat><D:prop><D:displayname></D:displayname><D:resourcetype><D:collection xmlns:D="DAV:"/></D:resourcetype><D:getlastmodified>Tue, 24 Nov 2026 20:11:09 GMT</D:getlastmodified></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response><D:response><D:href>/a%20b&amp;c.txt</D:href><D:propstat><D:prop><D:resourcetype></D:resourcetype><D:getcontentlength>6</D:getcontentlength><D:getlastmodified>Tue, 24 Nov 2026 20:11:09 GMT</D:getlastmodified><D:getetag>"b1946ac9"</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat><D:propstat><D:prop><D:getetag>"bad"</D:getetag></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat></D:response></D:multistatus>"#;
        let e = parse_multistatus(xml).expect("valid XML");
        assert_eq!(e.len(), 2);
        assert!(e[0].is_collection);
        assert_eq!(e[0].href, "/");
        assert_eq!(e[1].href, "/a%20b&c.txt");
        assert!(!e[1].is_collection);
        assert_eq!(e[1].size, Some(6));
        assert_eq!(e[1].etag.as_deref(), Some("\"b1946ac9\""));
        assert_eq!(e[1].mtime_ns, Some(1_795_551_069_000_000_000));

        let xml2 = r#"<multistatus xmlns="DAV:"><response><href>http://h/x/</href><propstat><prop><resourcetype><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>"#;
        let e = parse_multistatus(xml2).expect("valid XML");
        assert_eq!(e.len(), 1);
        assert!(e[0].is_collection);
        assert_eq!(e[0].href, "http://h/x/");

        // WsgiDAV's unquoted getetag.
        let xml3 = r#"<ns0:multistatus xmlns:ns0="DAV:"><ns0:response><ns0:href>/root/a.txt</ns0:href><ns0:propstat><ns0:prop><ns0:resourcetype /><ns0:getetag>10347117-1795566580-6</ns0:getetag></ns0:prop><ns0:status>HTTP/1.1 200 OK</ns0:status></ns0:propstat></ns0:response></ns0:multistatus>"#;
        let e = parse_multistatus(xml3).expect("valid XML");
        assert_eq!(e[0].etag.as_deref(), Some("\"10347117-1795566580-6\""));
    }

    #[test]
    fn etags_compare_in_header_form() {
        assert!(same_etag("\"a\"", "a"));
        assert!(same_etag("W/\"a\"", "\"a\""));
        assert!(!same_etag("\"a\"", "\"b\""));
        assert_eq!(normalize_etag("  "), None);
    }
}
