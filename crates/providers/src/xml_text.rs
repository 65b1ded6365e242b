//! Text of XML replies (WebDAV multistatus, S3 listings): the entity and character
//! references servers use in names, resolved the same way for every backend.

use quick_xml::events::BytesRef;

/// Appends the character a reference stands for (`&amp;`, `&#233;`, ...) to `text`.
///
/// # Errors
/// An unknown named entity.
pub(crate) fn push_reference(text: &mut String, r: BytesRef<'_>) -> Result<(), String> {
    if let Ok(Some(ch)) = r.resolve_char_ref() {
        text.push(ch);
        return Ok(());
    }
    match r.into_inner().as_ref() {
        "amp" => text.push('&'),
        "lt" => text.push('<'),
        "gt" => text.push('>'),
        "quot" => text.push('"'),
        "apos" => text.push('\''),
        other => return Err(format!("unknown XML entity &{other};")),
    }
    Ok(())
}
