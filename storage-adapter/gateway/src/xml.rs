//! The request XML bodies (Complete Multipart Upload, bucket encryption), read into a small tree
//! with quick-xml. Responses are written with `format!` and [`crate::http::escape`].

use quick_xml::events::Event;

use crate::error::{Error, Result};

/// An element: its local name, its text, its children.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (namespace prefix dropped).
    pub name: String,
    /// Concatenated text content (trimmed).
    pub text: String,
    /// Child elements in order.
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// All children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// The most bytes of XML a request may carry (a 10000-part Complete is about 1 MiB).
pub const MAX_XML: usize = 4 << 20;

/// Parses a document into its root element. Anything malformed is `MalformedXML`.
pub fn parse(bytes: &[u8]) -> Result<Element> {
    let bad = |m: String| Error::MalformedXml(m);
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        match reader.read_event().map_err(|e| bad(e.to_string()))? {
            Event::Start(s) => {
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                stack.push(Element {
                    name,
                    ..Default::default()
                });
            }
            Event::Empty(s) => {
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                let el = Element {
                    name,
                    ..Default::default()
                };
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let text = t.decode().map_err(|e| bad(e.to_string()))?;
                    let text =
                        quick_xml::escape::unescape(&text).map_err(|e| bad(e.to_string()))?;
                    top.text.push_str(&text);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let entity = format!("&{name};");
                    let text =
                        quick_xml::escape::unescape(&entity).map_err(|e| bad(e.to_string()))?;
                    top.text.push_str(&text);
                }
            }
            Event::End(_) => {
                let mut el = stack
                    .pop()
                    .ok_or_else(|| bad("unbalanced end tag".into()))?;
                el.text = el.text.trim().to_owned();
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(bad("unclosed element".into()));
    }
    root.ok_or_else(|| bad("no root element".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_complete_multipart() {
        let x = br#"<?xml version="1.0"?><CompleteMultipartUpload xmlns="http://x">
            <Part><PartNumber>1</PartNumber><ETag>"abc"</ETag></Part>
            <Part><PartNumber>2</PartNumber><ETag>&quot;d&amp;e&quot;</ETag></Part>
        </CompleteMultipartUpload>"#;
        let root = parse(x).unwrap();
        assert_eq!(root.name, "CompleteMultipartUpload");
        let parts: Vec<_> = root.children_named("Part").collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].child("ETag").unwrap().text, "\"abc\"");
        assert_eq!(parts[1].child("ETag").unwrap().text, "\"d&e\"");
        assert_eq!(parts[1].child("PartNumber").unwrap().text, "2");
    }

    #[test]
    fn malformed_is_malformed_xml() {
        for bad in [&b"<a><b></a>"[..], b"", b"<a>", b"not xml"] {
            let e = parse(bad).unwrap_err();
            assert_eq!(
                e.code(),
                "MalformedXML",
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
