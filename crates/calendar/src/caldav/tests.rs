// Compiled only under #[cfg(test)]: the parent module declares it so.
//! The client's unit tests: read-only by construction, hrefs, XML.

use super::*;

/// Read-only by construction: no request method that changes a server
/// is named in this file. The names are built from pieces so that this
/// test does not find itself.
#[test]
fn sends_only_propfind_and_report() {
    let source = [include_str!("mod.rs"), include_str!("wire.rs")].concat();
    let forbidden = [
        ["P", "UT"],
        ["DEL", "ETE"],
        ["MKCAL", "ENDAR"],
        ["MK", "COL"],
        ["PROPP", "ATCH"],
        ["MO", "VE"],
        ["CO", "PY"],
        ["PO", "ST"],
        ["PAT", "CH"],
        ["LO", "CK"],
        ["UNLO", "CK"],
        ["AC", "L"],
    ];
    let lower = source.to_lowercase();
    for parts in forbidden {
        let name = parts.concat();
        let low = name.to_lowercase();
        for needle in [
            format!("method::{low}"),
            format!("\"{low}\""),
            format!(".{low}("),
        ] {
            assert!(
                !lower.contains(&needle),
                "caldav/ names the request method {name} ({needle})"
            );
        }
    }
    // Methods are made in one place only, and they are these two.
    let path_sep = ["Meth", "od::"].concat();
    let ctor = [path_sep.as_str(), "from_bytes(b\""].concat();
    let made: Vec<&str> = source
        .split(&ctor)
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap_or_default())
        .collect();
    assert_eq!(made, ["PROPFIND", "REPORT"]);
    assert_eq!(source.matches(&path_sep).count(), made.len());
    // The client is only ever used through `.request(method, …)`.
    let field = [".ht", "tp"].concat();
    let uses: Vec<&str> = source.split(&field).skip(1).collect();
    assert!(!uses.is_empty());
    for rest in uses {
        assert!(
            rest.trim_start().starts_with(".request(method"),
            "the http client is used other than by .request(method, …): {}",
            rest.chars().take(60).collect::<String>()
        );
    }
}

#[test]
fn canonical_hrefs_agree_whatever_the_encoding() {
    let dav = CalDav::new("http://127.0.0.1:1/dav/", "u", "p", Duration::from_secs(1)).unwrap();
    let base = dav.base.clone();
    let forms = [
        "/dav/cal/a%20b%C3%A4.ics",
        "/dav/cal/a b\u{e4}.ics",
        "/dav/cal/a%20b%c3%a4.ics",
        "http://127.0.0.1:1/dav/cal/a%20b%C3%A4.ics",
        "cal/a%20b%C3%A4.ics",
    ];
    for f in forms {
        let url = dav.resolve(&base, f).unwrap();
        assert_eq!(dav.href_of(&url), "/dav/cal/a%20b%C3%A4.ics", "{f}");
    }
    // A slash inside a segment stays inside it.
    let url = dav.resolve(&base, "/dav/cal/x%2Fy.ics").unwrap();
    assert_eq!(dav.href_of(&url), "/dav/cal/x%2Fy.ics");
    // Another origin keeps it.
    let url = dav.resolve(&base, "https://other.example/c/e.ics").unwrap();
    assert_eq!(dav.href_of(&url), "https://other.example/c/e.ics");
    // A canonical href goes back to the same URL.
    let again = dav.target("/dav/cal/a%20b%C3%A4.ics").unwrap();
    assert_eq!(again.path(), "/dav/cal/a%20b%C3%A4.ics");
    assert_eq!(last_segment("/dav/Kalender%20%C3%A4/"), "Kalender \u{e4}");
}

#[test]
fn the_password_stays_out_of_debug_and_bad_addresses() {
    let dav = CalDav::new("http://h/", "u", "hunter2-secret", Duration::from_secs(1)).unwrap();
    assert!(!format!("{dav:?}").contains("hunter2"));
    let e = CalDav::new(
        "http://u:hunter2-secret@h/",
        "u",
        "p",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let e = CalDav::new(
        "ht tp://u:hunter2-secret@h/",
        "u",
        "p",
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(matches!(
        CalDav::new("ftp://h/", "u", "p", Duration::from_secs(1)),
        Err(CalDavError::BadUrl(_))
    ));
}

#[test]
fn the_password_goes_only_to_the_base_origin_or_https() {
    let dav = CalDav::new("http://127.0.0.1:1/", "u", "p", Duration::from_secs(1)).unwrap();
    assert!(
        dav.check_target(&Url::parse("http://127.0.0.1:1/x/").unwrap())
            .is_ok()
    );
    assert!(
        dav.check_target(&Url::parse("https://elsewhere/x/").unwrap())
            .is_ok()
    );
    assert!(
        dav.check_target(&Url::parse("http://elsewhere/x/").unwrap())
            .is_err()
    );
}

#[test]
fn xml_is_read_with_namespaces_entities_and_cdata() {
    let doc = br#"<?xml version="1.0"?>
<multistatus xmlns="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">
 <response><href>/c/1.ics</href><propstat><prop>
  <getetag>"e&amp;1"</getetag>
  <cal:calendar-data>BEGIN:VCALENDAR&#13;
A&lt;B<![CDATA[<x>]]>
</cal:calendar-data>
  <cal:supported-calendar-component-set><cal:comp name="VEVENT"/></cal:supported-calendar-component-set>
 </prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;
    let root = parse_xml(doc).unwrap();
    assert!(root.is(DAV, "multistatus"));
    let prop = root.children[0].children[1].child(DAV, "prop").unwrap();
    assert_eq!(prop.child(DAV, "getetag").unwrap().text, "\"e&1\"");
    assert_eq!(
        prop.child(CALDAV, "calendar-data").unwrap().text,
        "BEGIN:VCALENDAR\r\nA<B<x>\n"
    );
    let set = prop
        .child(CALDAV, "supported-calendar-component-set")
        .unwrap();
    assert_eq!(set.children[0].attr("name"), Some("VEVENT"));
}

#[test]
fn broken_xml_is_an_error_not_a_panic() {
    let deep = "<a>".repeat(10_000);
    let cases: Vec<&[u8]> = vec![
        b"",
        b"not xml at all",
        b"<D:multistatus xmlns:D=\"DAV:\"><D:response>",
        b"<D:multistatus xmlns:D=\"DAV:\"></D:response>",
        b"<x:multistatus>",
        b"<a></a><b></b>",
        b"<a>&nbsp;</a>",
        b"<a>&#0;</a>",
        b"<a b=\"1></a>",
        b"\xff\xfe<a/>",
        deep.as_bytes(),
    ];
    for c in cases {
        assert!(parse_xml(c).is_err(), "{:?}", String::from_utf8_lossy(c));
    }
}

#[test]
fn status_lines() {
    assert_eq!(status_code("HTTP/1.1 404 Not Found"), Some(404));
    assert_eq!(status_code(" HTTP/1.1 200 OK "), Some(200));
    assert_eq!(status_code("garbage"), None);
}

#[test]
fn a_response_with_several_hrefs_gives_each() {
    let dav = CalDav::new("http://127.0.0.1:1/", "u", "p", Duration::from_secs(1)).unwrap();
    let answer = Answer {
        status: StatusCode::MULTI_STATUS,
        url: Url::parse("http://127.0.0.1:1/c/").unwrap(),
        body: br#"<d:multistatus xmlns:d="DAV:"><d:response><d:href>/c/a.ics</d:href><d:href>b.ics</d:href><d:status>HTTP/1.1 404 Not Found</d:status></d:response><d:sync-token> t1 </d:sync-token></d:multistatus>"#.to_vec(),
    };
    let ms = dav.multistatus(&answer).unwrap();
    let hrefs: Vec<_> = ms
        .responses
        .iter()
        .map(|r| (r.href.as_str(), r.status))
        .collect();
    assert_eq!(hrefs, [("/c/a.ics", Some(404)), ("/c/b.ics", Some(404))]);
    assert_eq!(ms.sync_token.as_deref(), Some("t1"));
}
