//! Parsing of `ListObjectsV2` and `ListMultipartUploads` answers and S3 error bodies.

use quick_xml::events::Event;
use quick_xml::Reader;

/// One listed object.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    /// Seconds since the epoch (S3 gives milliseconds; HEAD gives seconds).
    pub mtime_secs: i64,
}

/// One page of a listing.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub objects: Vec<Object>,
    /// The `CommonPrefixes` of a listing with a delimiter (one level's folders).
    pub prefixes: Vec<String>,
    pub next_token: Option<String>,
    pub truncated: bool,
    /// `url` when keys came back URL-encoded.
    pub encoding: Option<String>,
}

/// Walks the elements of `xml`: `start(name)` at each opening tag, `end(name, text)` at
/// each closing one with the text directly before it (entities resolved).
fn walk(
    xml: &str,
    what: &str,
    mut start: impl FnMut(&str),
    mut end: impl FnMut(&str, String),
) -> Result<(), String> {
    let mut reader = Reader::from_str(xml);
    let mut text = String::new();
    loop {
        match reader
            .read_event()
            .map_err(|e| format!("bad {what} XML: {e}"))?
        {
            Event::Start(e) => {
                start(e.local_name().into_inner());
                text.clear();
            }
            Event::End(e) => end(e.local_name().into_inner(), std::mem::take(&mut text)),
            Event::Text(t) => text.push_str(&t.into_inner()),
            Event::CData(t) => text.push_str(&t.into_inner()),
            Event::GeneralRef(r) => crate::xml_text::push_reference(&mut text, r)?,
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// Seconds since the epoch of an RFC 3339 time (0 when unreadable).
fn epoch_secs(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text.trim()).map_or(0, |t| t.timestamp())
}

/// Parses a `ListBucketResult`.
pub(crate) fn parse_list(xml: &str) -> Result<Page, String> {
    let mut page = Page::default();
    let mut cur: Option<Object> = None;
    let in_contents = std::cell::Cell::new(false);
    let in_prefixes = std::cell::Cell::new(false);
    let mut done: Vec<Object> = Vec::new();
    walk(
        xml,
        "ListObjectsV2",
        |name| match name {
            "Contents" => in_contents.set(true),
            "CommonPrefixes" => in_prefixes.set(true),
            _ => {}
        },
        |name, value| {
            if in_prefixes.get() {
                match name {
                    "CommonPrefixes" => in_prefixes.set(false),
                    "Prefix" => page.prefixes.push(value),
                    _ => {}
                }
                return;
            }
            if name == "Contents" {
                in_contents.set(false);
                done.extend(cur.take());
                return;
            }
            if in_contents.get() {
                let o = cur.get_or_insert_with(Object::default);
                match name {
                    "Key" => o.key = value,
                    "Size" => o.size = value.trim().parse().unwrap_or(0),
                    "ETag" => o.etag = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
                    "LastModified" => o.mtime_secs = epoch_secs(&value),
                    _ => {}
                }
                return;
            }
            match name {
                "IsTruncated" => page.truncated = value.trim() == "true",
                "NextContinuationToken" => {
                    page.next_token = Some(value).filter(|v| !v.is_empty());
                }
                "EncodingType" => page.encoding = Some(value.trim().to_string()),
                _ => {}
            }
        },
    )?;
    page.objects = done;
    Ok(page)
}

/// One multipart upload in progress.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Upload {
    pub key: String,
    pub upload_id: String,
    /// Seconds since the epoch when it was started (0 when unreadable).
    pub initiated_secs: i64,
}

/// One page of `ListMultipartUploads`.
#[derive(Debug, Default)]
pub(crate) struct UploadsPage {
    pub uploads: Vec<Upload>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
    /// `url` when keys came back URL-encoded.
    pub encoding: Option<String>,
}

/// Parses a `ListMultipartUploadsResult`.
pub(crate) fn parse_uploads(xml: &str) -> Result<UploadsPage, String> {
    let mut page = UploadsPage::default();
    let mut cur: Option<Upload> = None;
    let in_upload = std::cell::Cell::new(false);
    let mut done: Vec<Upload> = Vec::new();
    walk(
        xml,
        "ListMultipartUploads",
        |name| {
            if name == "Upload" {
                in_upload.set(true);
            }
        },
        |name, value| {
            if name == "Upload" {
                in_upload.set(false);
                done.extend(cur.take());
                return;
            }
            if in_upload.get() {
                let u = cur.get_or_insert_with(Upload::default);
                match name {
                    "Key" => u.key = value,
                    "UploadId" => u.upload_id = value.trim().to_string(),
                    "Initiated" => u.initiated_secs = epoch_secs(&value),
                    _ => {}
                }
                return;
            }
            match name {
                "IsTruncated" => page.truncated = value.trim() == "true",
                "NextKeyMarker" => page.next_key_marker = Some(value).filter(|v| !v.is_empty()),
                "NextUploadIdMarker" => {
                    page.next_upload_id_marker = Some(value).filter(|v| !v.is_empty());
                }
                "EncodingType" => page.encoding = Some(value.trim().to_string()),
                _ => {}
            }
        },
    )?;
    page.uploads = done;
    Ok(page)
}

/// The `<Code>` of an S3 error body, if any.
pub(crate) fn error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let end = body[start..].find("</Code>")? + start;
    Some(&body[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_listing_page() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated><Contents><Key>100%25%20a%2Bb</Key><LastModified>2026-11-24T23:42:25.123Z</LastModified><ETag>&quot;d41d8&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>d%20x/</Key><LastModified>2026-11-24T23:42:25.000Z</LastModified><ETag>"e"</ETag><Size>0</Size></Contents><Name>bkt</Name><Prefix/><NextContinuationToken>tok</NextContinuationToken><EncodingType>url</EncodingType></ListBucketResult>"#;
        let p = parse_list(xml).expect("parses");
        assert!(p.truncated);
        assert_eq!(p.next_token.as_deref(), Some("tok"));
        assert_eq!(p.encoding.as_deref(), Some("url"));
        assert_eq!(p.objects.len(), 2);
        assert_eq!(p.objects[0].key, "100%25%20a%2Bb");
        assert_eq!(p.objects[0].etag.as_deref(), Some("\"d41d8\""));
        assert_eq!(p.objects[0].size, 12);
        assert_eq!(p.objects[0].mtime_secs, 1_795_563_745);
        assert_eq!(p.objects[1].key, "d%20x/");
        assert_eq!(
            error_code("<Error><Code>NoSuchBucket</Code></Error>"),
            Some("NoSuchBucket")
        );
    }

    #[test]
    fn a_delimited_listing_gives_its_common_prefixes_apart_from_the_request_prefix() {
        // The request's own <Prefix> is no common prefix; a marker object stays an object.
        let xml = r#"<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>photos/2006/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated><Contents><Key>photos/2006/</Key><LastModified>2016-04-30T23:51:29.000Z</LastModified><ETag>"d41d8cd98f00b204e9800998ecf8427e"</ETag><Size>0</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>photos/2006/February/</Prefix></CommonPrefixes><CommonPrefixes><Prefix>photos/2006/January/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let p = parse_list(xml).expect("parses");
        assert_eq!(
            p.prefixes,
            ["photos/2006/February/", "photos/2006/January/"]
        );
        assert_eq!(p.objects.len(), 1);
        assert_eq!(p.objects[0].key, "photos/2006/");
        assert!(!p.truncated);
    }

    #[test]
    fn parses_a_multipart_uploads_page() {
        // The shape of the S3 API reference's ListMultipartUploads example (owner and
        // initiator elements, which share inner names with nothing we read).
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>bucket</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker>my-movie.m2ts</NextKeyMarker><NextUploadIdMarker>YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ</NextUploadIdMarker><EncodingType>url</EncodingType><MaxUploads>3</MaxUploads><IsTruncated>true</IsTruncated><Upload><Key>my%20divisor</Key><UploadId>XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw</UploadId><Initiator><ID>arn:aws:iam::111122223333:user/user1-11111a31-17b5-4fb7-9df5-b111111f13de</ID><DisplayName>user1</DisplayName></Initiator><Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID><DisplayName>OwnerDisplayName</DisplayName></Owner><StorageClass>STANDARD</StorageClass><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload><Upload><Key>my-movie.m2ts</Key><UploadId>VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId><Initiated>2010-11-10T20:48:33.000Z</Initiated></Upload></ListMultipartUploadsResult>"#;
        let p = parse_uploads(xml).expect("parses");
        assert!(p.truncated);
        assert_eq!(p.encoding.as_deref(), Some("url"));
        assert_eq!(p.next_key_marker.as_deref(), Some("my-movie.m2ts"));
        assert_eq!(
            p.next_upload_id_marker.as_deref(),
            Some("YW55IGlkZWEgd2h5IGVsdmluZydzIHVwbG9hZCBmYWlsZWQ")
        );
        assert_eq!(p.uploads.len(), 2);
        assert_eq!(p.uploads[0].key, "my%20divisor");
        assert_eq!(
            p.uploads[0].upload_id,
            "XMgbGlrZSBlbHZpbmcncyBub3QgaGF2aW5nIG11Y2ggbHVjaw"
        );
        assert_eq!(p.uploads[0].initiated_secs, 1_289_422_113);
    }
}
