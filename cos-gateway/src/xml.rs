//! Request XML read into a small tree with quick-xml: the bounds and the root element's name that
//! every request document is checked for ([`crate::documents::from_xml`]) before quick-xml's serde
//! support reads it into its type. The documents themselves, both ways, are types in
//! [`crate::documents`].
//!
//! The tree is bounded, not only the bytes: [`MAX_XML`] bytes of `<a/>` would otherwise be about a
//! million elements. A document may have at most [`MAX_ELEMENTS`] elements (what the largest
//! Complete Multipart Upload needs) nested at most [`MAX_DEPTH`] deep; past either it is
//! `MalformedXML`, before the rest is read.

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

/// The elements one `<Part>` of a Complete Multipart Upload has: `Part`, `PartNumber`, `ETag`.
const ELEMENTS_PER_PART: usize = 3;

/// The most elements a document may have: a Complete Multipart Upload of
/// [`MAX_PARTS`](crate::limits::MAX_PARTS) parts and its root.
pub const MAX_ELEMENTS: usize = crate::limits::MAX_PARTS as usize * ELEMENTS_PER_PART + 1;

/// The deepest nesting accepted (the documents read here are 4 deep).
pub const MAX_DEPTH: usize = 16;

/// Parses a document into its root element. Anything malformed, or larger than [`MAX_ELEMENTS`]
/// elements or deeper than [`MAX_DEPTH`], is `MalformedXML`.
pub fn parse(bytes: &[u8]) -> Result<Element> {
    let bad = |m: String| Error::MalformedXml(m);
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    let mut elements = 0usize;
    loop {
        let event = reader.read_event().map_err(|e| bad(e.to_string()))?;
        if matches!(event, Event::Start(_) | Event::Empty(_)) {
            elements += 1;
            if elements > MAX_ELEMENTS {
                return Err(bad(format!("more than {MAX_ELEMENTS} elements")));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(bad(format!("elements nested more than {MAX_DEPTH} deep")));
            }
        }
        match event {
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
    fn element_count_is_capped_at_what_the_largest_complete_needs() {
        let part = "<Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part>";
        let doc = |parts: usize, extra: usize| {
            format!(
                "<CompleteMultipartUpload>{}{}</CompleteMultipartUpload>",
                part.repeat(parts),
                "<a/>".repeat(extra)
            )
        };
        let largest = doc(crate::limits::MAX_PARTS as usize, 0);
        assert!(largest.len() <= MAX_XML);
        let root = parse(largest.as_bytes()).unwrap();
        assert_eq!(root.children.len(), crate::limits::MAX_PARTS as usize);
        // Up to the cap exactly, then one more.
        let spare = MAX_ELEMENTS - 1 - crate::limits::MAX_PARTS as usize * ELEMENTS_PER_PART;
        let full = doc(crate::limits::MAX_PARTS as usize, spare);
        parse(full.as_bytes()).unwrap();
        let over = doc(crate::limits::MAX_PARTS as usize, spare + 1);
        let e = parse(over.as_bytes()).unwrap_err();
        assert_eq!((e.code(), e.status().as_u16()), ("MalformedXML", 400));
        // MAX_XML bytes of empty elements: refused, not a million-element tree.
        let flood = format!("<r>{}</r>", "<a/>".repeat((MAX_XML - 7) / 4));
        let e = parse(flood.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("elements"), "{e}");
    }

    #[test]
    fn nesting_is_capped() {
        let nest = |depth: usize, leaf: &str| {
            format!("{}{leaf}{}", "<a>".repeat(depth), "</a>".repeat(depth))
        };
        parse(nest(MAX_DEPTH, "").as_bytes()).unwrap();
        parse(nest(MAX_DEPTH - 1, "<b/>").as_bytes()).unwrap();
        for doc in [nest(MAX_DEPTH + 1, ""), nest(MAX_DEPTH, "<b/>")] {
            let e = parse(doc.as_bytes()).unwrap_err();
            assert_eq!((e.code(), e.status().as_u16()), ("MalformedXML", 400));
            assert!(e.to_string().contains("deep"), "{e}");
        }
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
