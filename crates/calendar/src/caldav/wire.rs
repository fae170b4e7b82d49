//! The WebDAV/CalDAV wire format: the XML request bodies sent, and the
//! multistatus answers read back with a namespace-aware pull parser
//! (depth and size bounded; nothing read can panic).

use super::*;

#[derive(Default)]
pub(super) struct Multistatus {
    pub(super) responses: Vec<DavResponse>,
    pub(super) sync_token: Option<String>,
}

pub(super) struct DavResponse {
    /// Canonical.
    pub(super) href: String,
    /// The response's own status, when it has one instead of propstats.
    pub(super) status: Option<u16>,
    /// Properties in 2xx propstats.
    pub(super) props: Vec<Element>,
    /// Properties in other propstats: namespace, name, status.
    pub(super) failed: Vec<(String, String, u16)>,
}

pub(super) enum Outcome {
    Found(Resource),
    Gone(String),
    Failed(String, u16),
}

impl DavResponse {
    pub(super) fn prop(&self, ns: &str, name: &str) -> Option<&Element> {
        self.props.iter().find(|p| p.is(ns, name))
    }

    pub(super) fn text(&self, ns: &str, name: &str) -> Option<String> {
        self.prop(ns, name).map(|p| p.text.trim().to_owned())
    }

    /// A calendar-multiget or calendar-query response as a resource.
    pub(super) fn into_resource(mut self) -> Outcome {
        match self.status {
            Some(404 | 410) => return Outcome::Gone(self.href),
            Some(s) if !(200..300).contains(&s) => return Outcome::Failed(self.href, s),
            _ => {}
        }
        let etag = self.text(DAV, "getetag").unwrap_or_default();
        match self
            .props
            .iter()
            .position(|p| p.is(CALDAV, "calendar-data"))
        {
            Some(i) => Outcome::Found(Resource {
                ics: self.props.swap_remove(i).text,
                etag,
                href: self.href,
            }),
            None => {
                let status = self
                    .failed
                    .iter()
                    .find(|(ns, name, _)| ns == CALDAV && name == "calendar-data")
                    .map_or(0, |(_, _, s)| *s);
                if matches!(status, 404 | 410) {
                    Outcome::Gone(self.href)
                } else {
                    Outcome::Failed(self.href, status)
                }
            }
        }
    }
}

/// Whether an error body names the DAV precondition `name`.
pub(super) fn precondition(body: &[u8], name: &str) -> bool {
    match parse_xml(body) {
        Ok(root) => root.find(DAV, name),
        Err(_) => String::from_utf8_lossy(body).contains(name),
    }
}

/// `HTTP/1.1 404 Not Found` -> 404.
pub(super) fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(super) const PRINCIPAL_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-principal/></D:prop></D:propfind>"#;

pub(super) const HOME_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-home-set/></D:prop></D:propfind>"#;

pub(super) const CALENDARS_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/" xmlns:I="http://apple.com/ns/ical/"><D:prop><D:resourcetype/><D:displayname/><CS:getctag/><D:sync-token/><C:supported-calendar-component-set/><I:calendar-color/></D:prop></D:propfind>"#;

pub(super) const ETAGS_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getetag/></D:prop></D:propfind>"#;

pub(super) fn sync_body(token: Option<&str>) -> String {
    let token = match token {
        Some(t) => format!(
            "<D:sync-token>{}</D:sync-token>",
            quick_xml::escape::escape(t)
        ),
        None => "<D:sync-token/>".to_owned(),
    };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<D:sync-collection xmlns:D="DAV:">{token}<D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>"#
    )
}

pub(super) fn multiget_body(hrefs: &[String]) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>"#,
    );
    for href in hrefs {
        out.push_str("<D:href>");
        out.push_str(&quick_xml::escape::escape(href.as_str()));
        out.push_str("</D:href>");
    }
    out.push_str("</C:calendar-multiget>");
    out
}

pub(super) fn query_body(start: DateTime<Utc>, end: DateTime<Utc>) -> String {
    const FORMAT: &str = "%Y%m%dT%H%M%SZ";
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="{}" end="{}"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"#,
        start.format(FORMAT),
        end.format(FORMAT)
    )
}

/// An XML element read whole: namespace URI, local name, attributes by
/// local name, the text directly inside it, its child elements.
#[derive(Debug, Clone, Default)]
pub(super) struct Element {
    pub(super) ns: String,
    pub(super) name: String,
    pub(super) attrs: Vec<(String, String)>,
    pub(super) text: String,
    pub(super) children: Vec<Element>,
}

impl Element {
    pub(super) fn is(&self, ns: &str, name: &str) -> bool {
        self.name == name && self.ns == ns
    }

    pub(super) fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    pub(super) fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    pub(super) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether this element or one below it is `ns`:`name`.
    pub(super) fn find(&self, ns: &str, name: &str) -> bool {
        self.is(ns, name) || self.children.iter().any(|c| c.find(ns, name))
    }
}

/// Reads a whole document into an [`Element`] tree. Errors are plain
/// descriptions (the caller adds where the answer came from).
pub(super) fn parse_xml(body: &[u8]) -> Result<Element, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("not UTF-8 ({e})"))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let (ns, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("XML error: {e}"))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("XML nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(element(&ns, &start)?);
            }
            Event::Empty(start) => {
                let el = element(&ns, &start)?;
                close(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                // quick-xml checks that the names match.
                let el = stack
                    .pop()
                    .ok_or_else(|| "an end tag with no start".to_owned())?;
                close(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => match stack.last_mut() {
                Some(el) => el.text.push_str(&t.into_inner()),
                None if t.trim().is_empty() => {}
                None => return Err("text outside the root element".to_owned()),
            },
            Event::CData(t) => match stack.last_mut() {
                Some(el) => el.text.push_str(&t.into_inner()),
                None => return Err("CDATA outside the root element".to_owned()),
            },
            Event::GeneralRef(r) => {
                let el = stack
                    .last_mut()
                    .ok_or_else(|| "an entity outside the root element".to_owned())?;
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| format!("character reference &{};: {e}", &*r))?
                {
                    el.text.push(c);
                } else if let Some(s) = quick_xml::escape::resolve_predefined_entity(&r) {
                    el.text.push_str(s);
                } else {
                    return Err(format!("unknown entity &{};", &*r));
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("the answer ends inside <{}>", open.name));
    }
    root.ok_or_else(|| "no XML element in the answer".to_owned())
}

pub(super) fn element(ns: &ResolveResult<'_>, start: &BytesStart<'_>) -> Result<Element, String> {
    let local = start.local_name();
    let name: &str = local.as_ref();
    let ns = match ns {
        ResolveResult::Bound(n) => {
            let n: &str = n.as_ref();
            n.to_owned()
        }
        ResolveResult::Unbound => String::new(),
        ResolveResult::Unknown(prefix) => {
            return Err(format!("<{name}> has the undeclared prefix {prefix:?}"));
        }
    };
    let mut attrs = Vec::new();
    for a in start.attributes() {
        let a = a.map_err(|e| format!("<{name}>: {e}"))?;
        let key = a.key.local_name();
        let key: &str = key.as_ref();
        let key = key.to_owned();
        let value = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| format!("<{name} {key}>: {e}"))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        ns,
        name: name.to_owned(),
        attrs,
        ..Element::default()
    })
}

/// Attaches a finished element to its parent, or makes it the root.
pub(super) fn close(
    stack: &mut [Element],
    root: &mut Option<Element>,
    el: Element,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err("more than one root element".to_owned()),
    }
    Ok(())
}

/// Reading multistatus answers into what the client needs.
impl CalDav {
    pub(super) fn multistatus(&self, answer: &Answer) -> Result<Multistatus, CalDavError> {
        let root = parse_xml(&answer.body).map_err(|e| {
            CalDavError::Malformed(format!(
                "{} (HTTP {}): {e}",
                answer.url,
                answer.status.as_u16()
            ))
        })?;
        if !root.is(DAV, "multistatus") {
            return Err(CalDavError::Malformed(format!(
                "{}: expected a DAV multistatus, got <{}>",
                answer.url, root.name
            )));
        }
        let mut ms = Multistatus::default();
        for child in root.children {
            if child.is(DAV, "sync-token") {
                ms.sync_token = Some(child.text.trim().to_owned());
            } else if child.is(DAV, "response") {
                ms.responses.extend(self.response(&answer.url, child)?);
            }
        }
        Ok(ms)
    }

    /// One `DAV:response`: usually one href with propstats; RFC 4918 also
    /// allows several hrefs sharing one status.
    pub(super) fn response(
        &self,
        base: &Url,
        el: Element,
    ) -> Result<Vec<DavResponse>, CalDavError> {
        let bad = |what: String| CalDavError::Malformed(format!("{base}: {what}"));
        let mut hrefs = Vec::new();
        let mut status = None;
        let mut props = Vec::new();
        let mut failed = Vec::new();
        for child in el.children {
            if child.is(DAV, "href") {
                let url = self
                    .resolve(base, child.text.trim())
                    .map_err(|e| bad(e.to_string()))?;
                hrefs.push(self.href_of(&url));
            } else if child.is(DAV, "status") {
                status = Some(
                    status_code(&child.text)
                        .ok_or_else(|| bad(format!("status line {:?}", child.text)))?,
                );
            } else if child.is(DAV, "propstat") {
                let code = child
                    .child(DAV, "status")
                    .ok_or_else(|| bad("a propstat without a status".to_owned()))?;
                let code = status_code(&code.text)
                    .ok_or_else(|| bad(format!("status line {:?}", code.text)))?;
                let prop = child.children.into_iter().find(|c| c.is(DAV, "prop"));
                for p in prop.map(|p| p.children).unwrap_or_default() {
                    if (200..300).contains(&code) {
                        props.push(p);
                    } else {
                        failed.push((p.ns, p.name, code));
                    }
                }
            }
        }
        if hrefs.is_empty() {
            return Err(bad("a response without an href".to_owned()));
        }
        let mut out: Vec<DavResponse> = Vec::with_capacity(hrefs.len());
        let last = hrefs.len() - 1;
        for (i, href) in hrefs.into_iter().enumerate() {
            let (props, failed) = if i == last {
                (std::mem::take(&mut props), std::mem::take(&mut failed))
            } else {
                (props.clone(), failed.clone())
            };
            out.push(DavResponse {
                href,
                status,
                props,
                failed,
            });
        }
        Ok(out)
    }
}

/// Two canonical hrefs of the same collection (one may lack the slash).
pub(super) fn same_collection(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

pub(super) fn last_segment(href: &str) -> String {
    let seg = href
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    percent_decode_str(seg).decode_utf8_lossy().into_owned()
}

pub(super) fn canonical_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        let bytes: Vec<u8> = percent_decode_str(seg).collect();
        out.extend(percent_encode(&bytes, SEGMENT));
    }
    out
}
