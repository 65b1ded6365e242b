//! The `fields` partial-response selector: `nextPageToken,files(id,name,parents)`,
//! `files/id`, `*`; parsed once and applied to a JSON answer.

use std::collections::BTreeMap;

use serde_json::Value;

use super::errors::DriveError;

/// A parsed selector: each selected key, with the selection inside it (`None`: all of it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields(BTreeMap<String, Option<Fields>>);

impl Fields {
    /// Parses `spec`.
    ///
    /// # Errors
    /// 400 `invalidParameter` on unbalanced parentheses or empty names.
    pub fn parse(spec: &str) -> Result<Fields, DriveError> {
        let chars: Vec<char> = spec.chars().filter(|c| !c.is_whitespace()).collect();
        let mut pos = 0;
        let fields = parse_list(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(bad(spec));
        }
        Ok(fields)
    }

    /// Keeps only the selected parts of `value` (arrays are filtered element by element).
    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => {
                if self.0.contains_key("*") {
                    return value.clone();
                }
                let mut out = serde_json::Map::new();
                for (key, sub) in &self.0 {
                    if let Some(v) = map.get(key) {
                        out.insert(
                            key.clone(),
                            match sub {
                                Some(sub) => sub.apply(v),
                                None => v.clone(),
                            },
                        );
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn insert_path(&mut self, path: &[String], sub: Option<Fields>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            match (self.0.get_mut(first), sub) {
                (Some(Some(existing)), Some(sub)) => existing.0.extend(sub.0),
                (Some(slot), None) => *slot = None,
                (Some(None), Some(_)) => {}
                (None, sub) => {
                    self.0.insert(first.clone(), sub);
                }
            }
        } else {
            let entry = self
                .0
                .entry(first.clone())
                .or_insert_with(|| Some(Fields::default()));
            if let Some(inner) = entry {
                inner.insert_path(rest, sub);
            }
        }
    }
}

fn bad(spec: &str) -> DriveError {
    DriveError {
        message: format!("Invalid field selection {spec}"),
        ..DriveError::invalid_parameter("fields")
    }
}

fn parse_list(chars: &[char], pos: &mut usize) -> Result<Fields, DriveError> {
    let spec: String = chars.iter().collect();
    let mut fields = Fields::default();
    loop {
        let mut path = Vec::new();
        let mut name = String::new();
        while *pos < chars.len() && !matches!(chars[*pos], ',' | '(' | ')') {
            if chars[*pos] == '/' {
                if name.is_empty() {
                    return Err(bad(&spec));
                }
                path.push(std::mem::take(&mut name));
            } else {
                name.push(chars[*pos]);
            }
            *pos += 1;
        }
        if name.is_empty() {
            return Err(bad(&spec));
        }
        path.push(name);
        let mut sub = None;
        if *pos < chars.len() && chars[*pos] == '(' {
            *pos += 1;
            sub = Some(parse_list(chars, pos)?);
            if *pos >= chars.len() || chars[*pos] != ')' {
                return Err(bad(&spec));
            }
            *pos += 1;
        }
        fields.insert_path(&path, sub);
        if *pos < chars.len() && chars[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_and_slash_selectors_pick_the_same_parts() {
        let v = json!({"kind": "drive#fileList", "nextPageToken": "t",
            "files": [{"id": "a", "name": "x", "size": "3"}, {"id": "b", "name": "y"}]});
        let f = Fields::parse("nextPageToken, files(id,name)").expect("parse");
        assert_eq!(
            f.apply(&v),
            json!({"nextPageToken": "t", "files": [{"id": "a", "name": "x"}, {"id": "b", "name": "y"}]})
        );
        let g = Fields::parse("files/id").expect("parse");
        assert_eq!(g.apply(&v), json!({"files": [{"id": "a"}, {"id": "b"}]}));
        assert_eq!(Fields::parse("*").expect("parse").apply(&v), v);
        assert!(Fields::parse("files(id").is_err());
        assert!(Fields::parse("files,,id").is_err());
    }
}
