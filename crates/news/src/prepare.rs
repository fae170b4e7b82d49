//! A feed's bytes made ready for the parser: decoded to UTF-8 whatever the
//! server sent (a BOM for UTF-8/16/32, UTF-16/32 without one, the XML
//! declaration's `encoding`, else UTF-8, else Windows-1252 as browsers do),
//! and what may stand before the root element (comments, processing
//! instructions, a DOCTYPE) taken away — it is valid XML, but the parser
//! stops at it. A JSON Feed whose `version` is a bare number ("1.1", as
//! some generators write) is read as that version of the spec.

use encoding_rs::Encoding;

/// The document as UTF-8, ready for `feed-rs`.
pub(crate) fn prepare(bytes: &[u8]) -> Vec<u8> {
    let text = decode(bytes);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return json(trimmed).unwrap_or_else(|| trimmed.as_bytes().to_vec());
    }
    xml(trimmed).into_bytes()
}

fn decode(bytes: &[u8]) -> String {
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => return lossy_utf8(rest),
        [0x00, 0x00, 0xFE, 0xFF, rest @ ..] => return utf32(rest, true),
        [0xFF, 0xFE, 0x00, 0x00, rest @ ..] => return utf32(rest, false),
        [0xFE, 0xFF, ..] | [0xFF, 0xFE, ..] => {
            let (enc, _) = Encoding::for_bom(bytes).unwrap_or((encoding_rs::UTF_8, 0));
            return enc.decode_with_bom_removal(bytes).0.into_owned();
        }
        [0x00, 0x00, 0x00, b'<', ..] => return utf32(bytes, true),
        [b'<', 0x00, 0x00, 0x00, ..] => return utf32(bytes, false),
        [0x00, b'<', ..] => {
            return encoding_rs::UTF_16BE
                .decode_without_bom_handling(bytes)
                .0
                .into_owned();
        }
        [b'<', 0x00, ..] => {
            return encoding_rs::UTF_16LE
                .decode_without_bom_handling(bytes)
                .0
                .into_owned();
        }
        _ => {}
    }
    if let Some(enc) = declared(bytes).filter(|e| *e != encoding_rs::UTF_8) {
        return enc.decode_without_bom_handling(bytes).0.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

fn lossy_utf8(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn utf32(b: &[u8], big: bool) -> String {
    b.chunks_exact(4)
        .map(|c| {
            let n = if big {
                u32::from_be_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            };
            char::from_u32(n).unwrap_or('\u{FFFD}')
        })
        .collect()
}

/// The encoding an XML declaration names, if it names one this knows.
fn declared(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(200)];
    let head = String::from_utf8_lossy(head);
    let decl = head.strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let label = &rest[1..][..rest[1..].find(quote)?];
    Encoding::for_label(label.trim().as_bytes())
}

/// Drops the XML declaration (the text is UTF-8 now, whatever it said) and
/// whatever comes before the root element.
fn xml(text: &str) -> String {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        let skip = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
            doctype_end(rest)
        } else {
            None
        };
        match skip {
            Some(n) => rest = &rest[n..],
            None => break,
        }
    }
    let rest = &escape_ampersands(rest);
    // An `<rss>` without its `version` (common enough) is read as 2.0.
    let end = rest.find('>').unwrap_or(rest.len());
    if rest.starts_with("<rss") && !rest[..end].contains("version") {
        return format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\"{}",
            &rest[4..]
        );
    }
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{rest}")
}

/// A bare `&` (`Q&A`) and HTML's named entities (`&nbsp;`, `&hellip;`),
/// which XML refuses, become text the HTML-to-text step reads back:
/// `&amp;`, `&amp;nbsp;`. XML's own five and numeric references stay.
fn escape_ampersands(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let closed = after[name_len..].starts_with(';') && !name.is_empty();
        let xml_own = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
            || (name.starts_with('#') && name.len() > 1);
        if closed && xml_own {
            out.push('&');
        } else {
            out.push_str("&amp;");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The end of a DOCTYPE, internal subset included.
fn doctype_end(s: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '>' if depth <= 0 => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// A JSON Feed with a bare-number `version`, given the spec's URL.
fn json(text: &str) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_str(text).ok()?;
    let version = v.get("version")?.as_str()?.trim().to_owned();
    if version.starts_with("https://jsonfeed.org/version/") {
        return None;
    }
    let n = version.trim_start_matches(['v', 'V']);
    if !(n == "1" || n.starts_with("1.")) {
        return None;
    }
    v["version"] = serde_json::Value::String(format!("https://jsonfeed.org/version/{n}"));
    serde_json::to_vec(&v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_leading_comments_are_made_plain() {
        let latin = b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><rss><channel><title>Caf\xe9</title></channel></rss>";
        assert!(String::from_utf8(prepare(latin)).unwrap().contains("Café"));
        let mut utf16 = vec![0xFF, 0xFE];
        for u in "<rss><channel><title>Ü</title></channel></rss>".encode_utf16() {
            utf16.extend(u.to_le_bytes());
        }
        assert!(
            String::from_utf8(prepare(&utf16))
                .unwrap()
                .contains("<title>Ü</title>")
        );
        let commented = "\u{feff}<?xml version=\"1.0\"?>\n<!-- cache -->\n<!DOCTYPE rss [<!ENTITY x \"y\">]>\n<rss/>";
        let out = String::from_utf8(prepare(commented.as_bytes())).unwrap();
        assert!(out.ends_with("\n<rss version=\"2.0\"/>"), "{out}");
        let undeclared = b"<rss><channel><title>na\xefve</title></channel></rss>";
        assert!(
            String::from_utf8(prepare(undeclared))
                .unwrap()
                .contains("naïve")
        );
        assert_eq!(
            escape_ampersands("Q&A &amp; &nbsp;x &#8217; &#x2019; &lt;b&gt; & end&"),
            "Q&amp;A &amp; &amp;nbsp;x &#8217; &#x2019; &lt;b&gt; &amp; end&amp;"
        );
        let j = String::from_utf8(prepare(br#"{"version": "1.1", "items": []}"#)).unwrap();
        assert!(j.contains("https://jsonfeed.org/version/1.1"), "{j}");
    }
}
