//! Email: invitations, password resets and notices, over SMTP (`SWITCHBOARD_SMTP_URL`).
//!
//! `lettre` does the protocol: `smtp://HOST:PORT` (plain, for a local relay),
//! `smtp://…?tls=required` (STARTTLS) or `smtps://…` (TLS from the first byte), with the
//! user and password in the URL. Without a URL configured, sending fails with
//! [`MailError::NotConfigured`], which callers report (an invitation link can still be
//! copied from the dashboard) instead of pretending the mail went out.

use lettre::message::{header::ContentType, Mailbox, Message, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::ExposeSecret;

/// What can go wrong sending mail.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no mail server is configured (SWITCHBOARD_SMTP_URL)")]
    NotConfigured,
    #[error("SWITCHBOARD_SMTP_URL is not usable: {0}")]
    BadServer(String),
    #[error("{0:?} is not a usable email address: {1}")]
    BadAddress(String, String),
    #[error("the email could not be built: {0}")]
    Build(String),
    /// The server refused the message or could not be reached. Never carries the
    /// server's URL, which may hold a password.
    #[error("the mail server did not take the email: {0}")]
    Send(String),
}

/// One email: plain text, and with a brand also an HTML alternative in the agency's
/// colours and logo, sent under its product name (the address stays ours).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub brand: Option<store::repo::Brand>,
}

/// The HTML alternative of a branded email; askama escapes every value.
#[derive(askama::Template)]
#[template(path = "email.html")]
struct BrandedEmail<'a> {
    subject: &'a str,
    product_name: &'a str,
    logo_url: Option<&'a str>,
    primary_color: &'a str,
    on_primary: &'static str,
    accent_color: &'a str,
    on_accent: &'static str,
    /// The text's paragraphs; one that is a lone link becomes a button.
    paragraphs: Vec<String>,
}

impl Mail {
    /// The HTML alternative, for a branded email.
    fn html(&self) -> Option<Result<String, askama::Error>> {
        use askama::Template;
        let brand = self.brand.as_ref()?;
        let paragraphs = self
            .text
            .split("\n\n")
            .flat_map(|p| p.split(":\n").map(str::trim).collect::<Vec<_>>())
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        Some(
            BrandedEmail {
                subject: &self.subject,
                product_name: &brand.product_name,
                logo_url: brand.logo_url.as_deref(),
                primary_color: &brand.primary_color,
                on_primary: crate::dashboard::page::readable_on(&brand.primary_color),
                accent_color: &brand.accent_color,
                on_accent: crate::dashboard::page::readable_on(&brand.accent_color),
                paragraphs,
            }
            .render(),
        )
    }
}

/// Sends email through the configured server. Cheap to clone (the connection pool is
/// shared).
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("configured", &self.transport.is_some())
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl Mailer {
    /// The mailer the configuration describes; a bad URL or sender is an error at start.
    pub fn from_config(config: &config::Config) -> Result<Self, MailError> {
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|e| MailError::BadAddress(config.mail_from.clone(), e.to_string()))?;
        let transport = match &config.smtp_url {
            None => None,
            Some(url) => Some(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| MailError::BadServer(e.to_string()))?
                    .build(),
            ),
        };
        Ok(Self { transport, from })
    }

    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Sends `mail`; returns once the server has accepted it.
    pub async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::NotConfigured)?;
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| MailError::BadAddress(mail.to.clone(), e.to_string()))?;
        let from = match &mail.brand {
            Some(brand) => Mailbox::new(Some(brand.product_name.clone()), self.from.email.clone()),
            None => self.from.clone(),
        };
        let builder = Message::builder()
            .from(from)
            .to(to)
            .subject(mail.subject.as_str());
        let message = match mail.html() {
            Some(html) => {
                let html = html.map_err(|e| MailError::Build(e.to_string()))?;
                builder.multipart(MultiPart::alternative_plain_html(mail.text.clone(), html))
            }
            None => builder
                .header(ContentType::TEXT_PLAIN)
                .body(mail.text.clone()),
        }
        .map_err(|e| MailError::Build(e.to_string()))?;
        transport
            .send(message)
            .await
            .map_err(|e| MailError::Send(e.to_string()))?;
        metrics::counter!("switchboard_mail_sent_total").increment(1);
        Ok(())
    }
}
