//! ICS subscriptions: any `http(s)` (or `webcal`) address serving an
//! iCalendar file, fetched with a conditional GET so a refresh every
//! quarter hour costs the server a `304 Not Modified`.
//!
//! Only GET is ever sent. The body is capped (a calendar is not gigabytes)
//! and must look like iCalendar, so an HTML error page is not taken for an
//! empty calendar.

use std::time::Duration;

/// The largest feed read, in bytes.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;

/// What a conditional GET found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// Same as last time (304, or the same ETag).
    NotModified,
    /// A new body with the validators for next time.
    Body {
        ics: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("{0} is not an http(s) or webcal address")]
    BadUrl(String),
    #[error("the feed at {url} answered HTTP {status}")]
    Http { url: String, status: u16 },
    #[error("cannot reach {url}: {detail}")]
    Network { url: String, detail: String },
    #[error("the feed at {url} is larger than {max} MB; not read", max = MAX_BYTES / 1024 / 1024)]
    TooLarge { url: String },
    #[error("{url} did not serve an iCalendar file (it starts with {start:?})")]
    NotCalendar { url: String, start: String },
}

/// `webcal://` is `https://` (what every calendar app does with it).
pub fn normalize(url: &str) -> Result<url::Url, FeedError> {
    let trimmed = url.trim();
    let fixed = match trimmed.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("webcal") => format!("https://{rest}"),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("webcals") => format!("https://{rest}"),
        _ => trimmed.to_string(),
    };
    let u = url::Url::parse(&fixed).map_err(|_| FeedError::BadUrl(url.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(FeedError::BadUrl(url.to_string()));
    }
    Ok(u)
}

/// The address with any user, password or query token hidden, for logs
/// and messages (subscription links often carry a secret token).
pub fn redacted(url: &url::Url) -> String {
    // Private feed paths are secrets too (Google's "private-<token>/basic.ics",
    // iCloud's "published/2/<token>", Nextcloud's "public-calendars/<token>"):
    // only a short file name ending in .ics is shown; user, password and
    // query never are.
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default();
    let stem = last.strip_suffix(".ics").unwrap_or("");
    let path = if url.path() == "/" {
        "/".to_string()
    } else if !stem.is_empty() && stem.len() <= 24 {
        format!("/…/{last}")
    } else {
        "/…".to_string()
    };
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let query = if url.query().is_some() { "?…" } else { "" };
    format!(
        "{}://{}{port}{path}{query}",
        url.scheme(),
        url.host_str().unwrap_or_default()
    )
}

/// Fetches `url`, sending the validators from the last fetch.
pub async fn fetch(
    client: &reqwest::Client,
    url: &url::Url,
    etag: Option<&str>,
    last_modified: Option<&str>,
    timeout: Duration,
) -> Result<Fetched, FeedError> {
    let shown = redacted(url);
    let mut req = client
        .get(url.clone())
        .timeout(timeout)
        .header(reqwest::header::ACCEPT, "text/calendar, */*;q=0.5");
    if let Some(e) = etag {
        req = req.header(reqwest::header::IF_NONE_MATCH, e);
    }
    if let Some(m) = last_modified {
        req = req.header(reqwest::header::IF_MODIFIED_SINCE, m);
    }
    let net = |e: reqwest::Error| FeedError::Network {
        url: shown.clone(),
        detail: e.without_url().to_string(),
    };
    let mut resp = req.send().await.map_err(net)?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(FeedError::Http {
            url: shown,
            status: status.as_u16(),
        });
    }
    let header = |name: reqwest::header::HeaderName| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let new_etag = header(reqwest::header::ETAG);
    let new_modified = header(reqwest::header::LAST_MODIFIED);
    if new_etag.is_some() && new_etag.as_deref() == etag {
        return Ok(Fetched::NotModified);
    }
    if resp
        .content_length()
        .is_some_and(|n| n as usize > MAX_BYTES)
    {
        return Err(FeedError::TooLarge { url: shown });
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(net)? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(FeedError::TooLarge { url: shown });
        }
        body.extend_from_slice(&chunk);
    }
    let text = match String::from_utf8(body) {
        Ok(t) => t,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    };
    let head = text.trim_start_matches('\u{feff}').trim_start();
    if !head
        .get(..15)
        .is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err(FeedError::NotCalendar {
            url: shown,
            start: head.chars().take(40).collect(),
        });
    }
    Ok(Fetched::Body {
        ics: text,
        etag: new_etag,
        last_modified: new_modified,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webcal_is_https_and_other_schemes_are_refused() {
        assert_eq!(
            normalize("webcal://example.org/a.ics")
                .map(|u| u.to_string())
                .ok(),
            Some("https://example.org/a.ics".to_string())
        );
        assert!(normalize("ftp://example.org/a.ics").is_err());
        assert!(normalize("not a url").is_err());
    }

    #[test]
    fn icloud_and_nextcloud_tokens_are_hidden() {
        for url in [
            "webcal://p52-caldav.icloud.com/published/2/MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkw",
            "https://cloud.example.org/remote.php/dav/public-calendars/k2BsQ8xYz3PqRr7T?export",
            "https://club.example/cal/8f3a9c0d1e2f3a4b5c6d7e8f9a0b1c2d.ics",
        ] {
            let shown = redacted(&normalize(url).expect("url"));
            for secret in ["MTIzNDU2", "k2BsQ8", "8f3a9c0d"] {
                assert!(!shown.contains(secret), "{shown}");
            }
        }
        let shown = redacted(&normalize("https://club.example/fixtures.ics").expect("url"));
        assert_eq!(shown, "https://club.example/…/fixtures.ics");
    }

    #[test]
    fn secret_tokens_are_hidden_when_shown() {
        let u = normalize(
            "https://calendar.google.com/calendar/ical/me%40gmail.com/private-0123456789abcdef/basic.ics",
        )
        .expect("url");
        let shown = redacted(&u);
        assert!(!shown.contains("0123456789abcdef"), "{shown}");
        assert!(shown.ends_with("/basic.ics"), "{shown}");
        let u = normalize("https://user:pw@club.example/feed.ics?token=s3cret").expect("url");
        let shown = redacted(&u);
        assert!(
            !shown.contains("s3cret") && !shown.contains("pw"),
            "{shown}"
        );
    }
}
