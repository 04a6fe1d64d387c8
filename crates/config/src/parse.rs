//! Parsers from a raw string to a typed value.
//!
//! Each returns the problem as a sentence fragment that follows the setting's name, e.g.
//! `"abc" is not a socket address …`. Parsers of secrets never repeat the value.

use std::fmt::Display;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use secrets::MasterKey;
use url::Url;

use crate::types::{DatabaseUrl, LogFormat, ObjectStoreUrl, PostgresUrl, SqliteSynchronous};

/// `HOST:PORT` with an IP address; `localhost:PORT` means `127.0.0.1:PORT`.
pub(crate) fn socket_addr(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("localhost:") {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        None => t.parse().ok(),
    };
    parsed.ok_or_else(|| {
        format!("{s:?} is not a socket address (expected HOST:PORT, e.g. 127.0.0.1:8080)")
    })
}

/// A whole number in `min..=max`.
pub(crate) fn number<T>(s: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    s.trim()
        .parse::<T>()
        .ok()
        .filter(|n| *n >= min && *n <= max)
        .ok_or_else(|| format!("{s:?} is not a whole number between {min} and {max}"))
}

/// `true` or `false` (also `1`/`0`, `yes`/`no`), case-insensitive.
pub(crate) fn flag(s: &str) -> Result<bool, String> {
    choice(
        s,
        &[
            ("true", true),
            ("false", false),
            ("1", true),
            ("0", false),
            ("yes", true),
            ("no", false),
        ],
    )
}

/// One of a few words, case-insensitive.
fn choice<T: Copy>(s: &str, options: &[(&str, T)]) -> Result<T, String> {
    let t = s.trim();
    options
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(t))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
            format!("{s:?} is not one of {}", names.join(", "))
        })
}

pub(crate) fn sqlite_synchronous(s: &str) -> Result<SqliteSynchronous, String> {
    choice(
        s,
        &[
            ("full", SqliteSynchronous::Full),
            ("normal", SqliteSynchronous::Normal),
        ],
    )
}

pub(crate) fn log_format(s: &str) -> Result<LogFormat, String> {
    choice(s, &[("human", LogFormat::Human), ("json", LogFormat::Json)])
}

/// An absolute http(s) URL without user, query or fragment, returned without a trailing
/// slash so that `format!("{base}/path")` is always right.
pub(crate) fn http_url(s: &str) -> Result<String, String> {
    let url = Url::parse(s.trim()).map_err(|e| {
        format!("{s:?} is not an absolute URL ({e}; expected e.g. https://example.com)")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{s:?} is not an http or https URL"));
    }
    if !url.has_host() {
        return Err(format!("{s:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{s:?} must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{s:?} must not contain a user name or password"));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The scheme of a URL-ish string, lowercased, if it has one.
fn scheme(s: &str) -> Option<String> {
    let (scheme, _) = s.split_once(':')?;
    let valid = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// `sqlite://PATH`, `sqlite:PATH`, `postgres://…` or `postgresql://…`. May hold a password,
/// so only the scheme is ever repeated.
pub(crate) fn database_url(s: &str) -> Result<DatabaseUrl, String> {
    const EXPECTED: &str = "expected sqlite://PATH, sqlite:PATH, postgres://… or postgresql://…";
    let s = s.trim();
    match scheme(s).as_deref() {
        Some("sqlite") => {
            let rest = &s["sqlite:".len()..];
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err("has no file path (expected sqlite://PATH)".to_string());
            }
            if path.contains('?') {
                return Err("must not have query parameters after the SQLite path \
                     (Switchboard sets the SQLite options itself)"
                    .to_string());
            }
            Ok(DatabaseUrl::Sqlite {
                path: PathBuf::from(path),
            })
        }
        Some("postgres" | "postgresql") => {
            let mut url =
                Url::parse(s).map_err(|e| format!("is not a valid PostgreSQL URL ({e})"))?;
            if url.password().is_some() {
                // Infallible for a URL that already has a password.
                let _ = url.set_password(Some("REDACTED"));
            }
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        "REDACTED".to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            if !pairs.is_empty() {
                url.query_pairs_mut().clear().extend_pairs(pairs);
            }
            Ok(DatabaseUrl::Postgres(PostgresUrl::new(
                s.to_string(),
                url.to_string(),
            )))
        }
        Some(other) => Err(format!("unsupported scheme {other:?} ({EXPECTED})")),
        None => Err(format!("is not a database URL ({EXPECTED})")),
    }
}

/// An email sender: `address` or `Name <address>`, with one `@` in the address. The full
/// check is the mail library's, at start.
pub(crate) fn mailbox(s: &str) -> Result<String, String> {
    let s = s.trim();
    let address = match (s.find('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close && close == s.len() - 1 => &s[open + 1..close],
        (None, None) => s,
        _ => return Err("is not `address` or `Name <address>`".to_string()),
    };
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(s.to_string())
        }
        _ => Err(format!("{address:?} is not an email address")),
    }
}

/// `smtp://…` or `smtps://…` with a host. May hold a password: never repeated.
pub(crate) fn smtp_url(s: &str) -> Result<(), String> {
    let url = Url::parse(s.trim()).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "smtp" | "smtps") {
        return Err(format!(
            "unsupported scheme {:?} (expected smtp://HOST:PORT or smtps://HOST:PORT)",
            url.scheme()
        ));
    }
    if !url.has_host() {
        return Err("has no host (expected smtp://HOST:PORT or smtps://HOST:PORT)".to_string());
    }
    Ok(())
}

/// `file://PATH` or `s3://BUCKET[/PREFIX]`.
pub(crate) fn object_store_url(s: &str) -> Result<ObjectStoreUrl, String> {
    const EXPECTED: &str = "expected file://PATH or s3://BUCKET/PREFIX";
    let t = s.trim();
    if let Some(path) = t.strip_prefix("file://") {
        if path.is_empty() {
            return Err(format!("{s:?} has no path ({EXPECTED})"));
        }
        return Ok(ObjectStoreUrl::File {
            root: PathBuf::from(path),
        });
    }
    if let Some(rest) = t.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("{s:?} has no bucket ({EXPECTED})"));
        }
        if rest.contains(['?', '#', '@']) {
            return Err(format!(
                "{s:?} must be only a bucket and a prefix ({EXPECTED})"
            ));
        }
        return Ok(ObjectStoreUrl::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        });
    }
    Err(format!(
        "{s:?} is not a supported object store URL ({EXPECTED})"
    ))
}

/// A PEM `PUBLIC KEY` block. Only the armour is checked; the GHL crate parses the key.
/// Literal `\n` sequences (common when a PEM is squeezed into one variable) become newlines.
pub(crate) fn public_key_pem(s: &str) -> Result<String, String> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let text = if s.contains('\n') {
        s.to_string()
    } else {
        s.replace("\\n", "\n")
    };
    let text = text.trim();
    let body = text
        .strip_prefix(BEGIN)
        .and_then(|rest| rest.strip_suffix(END))
        .map(str::trim);
    match body {
        Some(body) if !body.is_empty() && !body.contains("-----") => Ok(format!("{text}\n")),
        _ => Err(format!(
            "is not a PEM public key (expected a {BEGIN} … {END} block)"
        )),
    }
}

/// The current master key: `BASE64` (version 1) or `N:BASE64`.
pub(crate) fn master_key(s: &str) -> Result<MasterKey, String> {
    MasterKey::parse(s).map_err(|e| e.to_string())
}

/// Comma-separated `N:BASE64` keys with versions distinct from each other and from the
/// current key's.
pub(crate) fn previous_master_keys(
    s: &str,
    current: Option<u32>,
) -> Result<Vec<MasterKey>, String> {
    let mut keys: Vec<MasterKey> = Vec::new();
    let entries = s.split(',').map(str::trim).filter(|e| !e.is_empty());
    for (i, entry) in entries.enumerate() {
        let n = i + 1;
        if !entry.contains(':') {
            return Err(format!(
                "entry {n} has no version (expected comma-separated N:BASE64 entries)"
            ));
        }
        let key = MasterKey::parse(entry).map_err(|e| format!("entry {n}: {e}"))?;
        let v = key.version();
        if current == Some(v) {
            return Err(format!(
                "entry {n}: key version {v} is also the version of SWITCHBOARD_MASTER_KEY \
                 (every key needs its own version)"
            ));
        }
        if keys.iter().any(|k| k.version() == v) {
            return Err(format!("entry {n}: key version {v} appears twice"));
        }
        keys.push(key);
    }
    Ok(keys)
}

/// CSP `frame-ancestors` sources: `https://` origins (`http://` only for loopback),
/// optionally with a `*.` wildcard for
/// subdomains, separated by spaces. Nothing that could end the directive or widen it to
/// every site (`;`, `*` alone, `http:`).
pub(crate) fn frame_ancestors(s: &str) -> Result<String, String> {
    let sources: Vec<&str> = s.split_whitespace().collect();
    if sources.is_empty() {
        return Err("list at least one https:// origin".into());
    }
    for source in &sources {
        // Plain http only for this machine (the sandbox's GHL page in a rehearsal).
        let host = source
            .strip_prefix("https://")
            .or_else(|| {
                source
                    .strip_prefix("http://")
                    .filter(|h| h.starts_with("127.0.0.1") || h.starts_with("localhost"))
            })
            .ok_or_else(|| format!("{source:?}: each source is an https:// origin"))?;
        let host = host.strip_prefix("*.").unwrap_or(host);
        let host = host.strip_suffix(":*").unwrap_or(host);
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
        if !valid {
            return Err(format!(
                "{source:?}: not an origin (a host name, an optional port)"
            ));
        }
    }
    Ok(sources.join(" "))
}
