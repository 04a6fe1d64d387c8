//! Downloading attachments within the size and type limits.
//!
//! Not through the shared `outbound` executor: it buffers whole bodies, and a provider's
//! media can be far larger than we accept. Here the `Content-Length` is checked before
//! reading and the bytes are counted while streaming, so at most the limit (plus one
//! chunk) is ever held. A download has its own client and total timeout, because a large
//! file on a slow link legitimately takes longer than an API call.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use bytes::{Bytes, BytesMut};
use channels::{Channel, Credentials};
use outbound::{ApiRequest, ApiResponse};

use super::{guard, kind};

/// The longest one download may take, connection included.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// Media we accepted: its bytes and its (allowed) content type.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Bytes,
    /// Reduced to its essence (`image/jpeg`).
    pub content_type: String,
    /// The extension its stored object gets.
    pub extension: &'static str,
}

/// Why an attachment was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// For good: too large, a type we don't carry, gone at the provider. The message
    /// goes on without it, with `reason` in its place.
    Refused { reason: String, size: Option<u64> },
    /// Worth another try later: a 5xx, a 429, a timeout, a dropped connection.
    Transient(String),
}

impl FetchError {
    fn refused(reason: impl Into<String>) -> Self {
        FetchError::Refused {
            reason: reason.into(),
            size: None,
        }
    }
}

/// Downloads within the limits.
#[derive(Debug, Clone)]
pub struct Downloader {
    http: reqwest::Client,
    max_bytes: u64,
    /// Internal addresses may be reached (see [`guard`]).
    allow_internal: bool,
}

impl Downloader {
    /// `allow_internal` lifts the guard against internal addresses ([`guard`]).
    pub fn new(max_bytes: u64, allow_internal: bool) -> Result<Self, reqwest::Error> {
        // Redirects are followed (Twilio answers its media URLs with a redirect to its CDN);
        // reqwest drops the Authorization header when a redirect leaves the host.
        let builder = reqwest::Client::builder()
            .timeout(DOWNLOAD_TIMEOUT)
            .connect_timeout(Duration::from_secs(10));
        let http = if allow_internal {
            builder.redirect(reqwest::redirect::Policy::limited(5))
        } else {
            builder.dns_resolver(Arc::new(guard::PublicOnly)).redirect(
                reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 5 {
                        attempt.error("too many redirects")
                    } else if guard::internal_literal(attempt.url()).is_some() {
                        attempt.error("a redirect to an internal address")
                    } else {
                        attempt.follow()
                    }
                }),
            )
        }
        .build()?;
        Ok(Self {
            http,
            max_bytes,
            allow_internal,
        })
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// An inbound attachment, fetched the channel's way (its auth, and WhatsApp-style
    /// lookups answered with where the bytes are, followed once).
    pub async fn inbound(
        &self,
        channel: &dyn Channel,
        credentials: &Credentials,
        api_base: &str,
        reference: &str,
    ) -> Result<Fetched, FetchError> {
        let request = channel
            .media_request(credentials, api_base, reference)
            .map_err(|e| FetchError::refused(e.to_string()))?;
        let mut response = self.download(request).await?;
        if let Some(location) = channel.media_location(&response) {
            let request = channel
                .media_request(credentials, api_base, &location)
                .map_err(|e| FetchError::refused(e.to_string()))?;
            response = self.download(request).await?;
        }
        accept(response)
    }

    /// A public link (GHL's outbound attachments): a plain GET.
    pub async fn link(&self, url: &str) -> Result<Fetched, FetchError> {
        let request = channels::media_get(url).map_err(|e| FetchError::refused(e.to_string()))?;
        accept(self.download(request).await?)
    }

    /// A web page for the knowledge crawler: a GET with `user_agent`, within the same
    /// limits and guard as media. Any status but a transient one (5xx, 429, 408) is
    /// answered, so robots.txt's 404 can mean "no rules"; with it, the URL the answer came
    /// from after redirects (links on the page are relative to it).
    pub async fn page(
        &self,
        url: &str,
        user_agent: &str,
    ) -> Result<(ApiResponse, String), FetchError> {
        let mut request =
            channels::media_get(url).map_err(|e| FetchError::refused(e.to_string()))?;
        if let Ok(agent) = axum::http::HeaderValue::from_str(user_agent) {
            request.headers.insert(header::USER_AGENT, agent);
        }
        self.send_limited(request).await
    }

    /// Runs `request` and reads at most `max_bytes` of its body; anything but a 2xx is
    /// refused.
    async fn download(&self, request: ApiRequest) -> Result<ApiResponse, FetchError> {
        let (response, _) = self.send_limited(request).await?;
        if !response.status.is_success() {
            return Err(FetchError::refused(format!(
                "it could not be fetched (HTTP {})",
                response.status.as_u16()
            )));
        }
        Ok(response)
    }

    /// Runs `request` and reads at most `max_bytes` of its body; transient statuses are
    /// errors, others are answered with the final URL.
    async fn send_limited(&self, request: ApiRequest) -> Result<(ApiResponse, String), FetchError> {
        if !self.allow_internal {
            self.refuse_internal(&request.url).await?;
        }
        let mut builder = self
            .http
            .request(request.method, &request.url)
            .headers(request.headers);
        if !request.body.is_empty() {
            builder = builder.body(request.body);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| FetchError::Transient(format!("download failed: {}", without_url(&e))))?;
        let status = response.status();
        if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            return Err(FetchError::Transient(format!(
                "the media host answered HTTP {}",
                status.as_u16()
            )));
        }
        let final_url = response.url().to_string();
        if let Some(length) = response.content_length() {
            if length > self.max_bytes {
                return Err(self.too_large(Some(length)));
            }
        }
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            FetchError::Transient(format!("download interrupted: {}", without_url(&e)))
        })? {
            if (body.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(self.too_large(None));
            }
            body.extend_from_slice(&chunk);
        }
        let response = ApiResponse {
            status,
            headers: response.headers().clone(),
            body: body.freeze(),
        };
        Ok((response, final_url))
    }

    /// Refuses, before any request, a URL whose host is internal: an IP literal, or a
    /// name that resolves only to internal addresses. (The client's resolver enforces the
    /// same at connection time; this gives the refusal its reason, for good.)
    async fn refuse_internal(&self, url: &str) -> Result<(), FetchError> {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            return Err(FetchError::refused("its address is not a valid URL"));
        };
        let internal = match (guard::internal_literal(&parsed), parsed.host_str()) {
            (Some(_), _) => true,
            (None, Some(host)) if parsed.domain().is_some() => {
                let port = parsed.port_or_known_default().unwrap_or(443);
                guard::resolves_only_internally(host, port).await
            }
            _ => false,
        };
        if internal {
            return Err(FetchError::refused(
                "its address is internal (loopback, private network or metadata service)",
            ));
        }
        Ok(())
    }

    fn too_large(&self, size: Option<u64>) -> FetchError {
        let limit = kind::human_size(self.max_bytes);
        FetchError::Refused {
            reason: match size {
                Some(size) => format!("{} is over the {limit} limit", kind::human_size(size)),
                None => format!("it is over the {limit} limit"),
            },
            size,
        }
    }
}

/// Keeps a response whose declared type is allowed.
fn accept(response: ApiResponse) -> Result<Fetched, FetchError> {
    let content_type = content_type(&response.headers);
    if content_type.is_empty() {
        return Err(FetchError::refused("it has no content type"));
    }
    let Some(extension) = kind::extension_for(&content_type) else {
        return Err(FetchError::Refused {
            reason: format!("{content_type} is not an allowed attachment type"),
            size: Some(response.body.len() as u64),
        });
    };
    Ok(Fetched {
        bytes: response.body,
        content_type,
        extension,
    })
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(kind::essence)
        .unwrap_or_default()
}

/// A reqwest error without its URL: media URLs can carry tokens.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "transport error"
    };
    kind.to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A one-shot HTTP/1.1 server answering `head` then `body`, without a Content-Length
    /// (the body ends when the connection closes): only counting can stop it.
    async fn serve_once(head: &'static str, body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/file", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let _ = socket.write_all(head.as_bytes()).await;
            for chunk in body.chunks(1000) {
                if socket.write_all(chunk).await.is_err() {
                    return;
                }
            }
        });
        url
    }

    const PNG_HEAD: &str =
        "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n";

    #[tokio::test]
    async fn a_body_without_length_is_counted_and_cut_at_the_limit() {
        let downloader = Downloader::new(4096, true).unwrap();
        let url = serve_once(PNG_HEAD, vec![7u8; 100_000]).await;
        assert_eq!(
            downloader.link(&url).await.unwrap_err(),
            FetchError::Refused {
                reason: "it is over the 4 KB limit".into(),
                size: None
            }
        );
        let url = serve_once(PNG_HEAD, vec![7u8; 4096]).await;
        let fetched = downloader.link(&url).await.unwrap();
        assert_eq!((fetched.bytes.len(), fetched.extension), (4096, "png"));
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_before_reading() {
        let downloader = Downloader::new(4096, true).unwrap();
        let head = "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 12900000\r\n\r\n";
        let url = serve_once(head, vec![]).await;
        assert_eq!(
            downloader.link(&url).await.unwrap_err(),
            FetchError::Refused {
                reason: "12.3 MB is over the 4 KB limit".into(),
                size: Some(12_900_000)
            }
        );
    }

    #[tokio::test]
    async fn statuses_and_types_decide_retry_or_refusal() {
        let downloader = Downloader::new(4096, true).unwrap();
        let url = serve_once(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            vec![],
        )
        .await;
        assert_eq!(
            downloader.link(&url).await.unwrap_err(),
            FetchError::Transient("the media host answered HTTP 503".into())
        );
        let url = serve_once(
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            vec![],
        )
        .await;
        assert!(matches!(
            downloader.link(&url).await,
            Err(FetchError::Refused { .. })
        ));
        let url = serve_once(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n",
            b"hi".to_vec(),
        )
        .await;
        assert_eq!(
            downloader.link(&url).await.unwrap_err(),
            FetchError::Refused {
                reason: "it has no content type".into(),
                size: None
            }
        );
        // Nothing listening: a transport failure is worth a retry.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", closed.local_addr().unwrap());
        drop(closed);
        assert!(matches!(
            downloader.link(&url).await,
            Err(FetchError::Transient(_))
        ));
        assert!(matches!(
            downloader.link("ftp://example.com/x.png").await,
            Err(FetchError::Refused { .. })
        ));
    }
}
