//! Email through a real SMTP server: Python's `aiosmtpd` (installed by `.ci/run`), run as
//! a process that stores what it receives in a maildir.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use server::mail::{Mail, MailError, Mailer};

/// A local SMTP server keeping every message as a file under `maildir/new`.
pub(crate) struct SmtpServer {
    child: Child,
    pub(crate) port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    pub(crate) fn start() -> Self {
        let port = free_port();
        let maildir = tempfile::tempdir().unwrap();
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with aiosmtpd (pip install aiosmtpd) runs the test SMTP server");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the SMTP server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            maildir,
        }
    }

    /// Every message received so far, raw.
    pub(crate) fn received(&self) -> Vec<String> {
        let new: PathBuf = self.maildir.path().join("mail").join("new");
        let Ok(entries) = std::fs::read_dir(new) else {
            return Vec::new();
        };
        entries
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect()
    }
}

/// A received message as a mail client shows it: quoted-printable decoded.
pub(crate) fn decoded(raw: &str) -> String {
    if !raw.contains("Content-Transfer-Encoding: quoted-printable") {
        return raw.to_string();
    }
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (other, _) => {
                out.push(other);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mailer(env: &[(&str, &str)]) -> Result<Mailer, MailError> {
    let dir = tempfile::tempdir().unwrap();
    let mut vars: Vec<(String, String)> = vec![(
        "SWITCHBOARD_DATA_DIR".into(),
        dir.path().display().to_string(),
    )];
    vars.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Arc::new(config::Config::load(None, vars).unwrap().config);
    Mailer::from_config(&config)
}

fn invitation(to: &str) -> Mail {
    Mail {
        to: to.into(),
        subject: "You are invited to Switchboard".into(),
        text: "Open https://switchboard.example/invite/abc to choose a password.".into(),
        brand: None,
    }
}

#[tokio::test]
async fn an_email_reaches_the_smtp_server_with_its_sender_recipient_and_text() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let mailer = mailer(&[
        ("SWITCHBOARD_SMTP_URL", &url),
        ("SWITCHBOARD_MAIL_FROM", "Acme Texting <hello@acme.example>"),
    ])
    .unwrap();
    assert!(mailer.is_configured());
    mailer
        .send(&invitation("Ana <ana@client.example>"))
        .await
        .unwrap();
    let received = smtp.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let mail = &received[0];
    assert!(
        mail.contains("From: \"Acme Texting\" <hello@acme.example>"),
        "{mail}"
    );
    assert!(mail.contains("To: Ana <ana@client.example>"), "{mail}");
    assert!(
        mail.contains("Subject: You are invited to Switchboard"),
        "{mail}"
    );
    assert!(
        mail.contains("https://switchboard.example/invite/abc"),
        "{mail}"
    );
}

#[tokio::test]
async fn a_branded_email_goes_out_under_the_agencys_name_and_colours_escaped() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let mailer = mailer(&[
        ("SWITCHBOARD_SMTP_URL", &url),
        (
            "SWITCHBOARD_MAIL_FROM",
            "Switchboard <hello@switchboard.example>",
        ),
    ])
    .unwrap();
    let mut mail = invitation("ana@client.example");
    mail.subject = "You are invited to Acme <Texting>".into();
    mail.text =
        "You are invited.\n\nTo accept, open this link:\nhttps://switchboard.example/invite/abc\n"
            .into();
    mail.brand = Some(store::repo::Brand {
        product_name: "Acme <Texting>".into(),
        logo_url: Some("https://acme.example/logo.png".into()),
        primary_color: "#aa3300".into(),
        accent_color: "#0b7a5a".into(),
    });
    mailer.send(&mail).await.unwrap();
    let received = smtp.received();
    assert_eq!(received.len(), 1, "{received:?}");
    let raw = &received[0];
    assert!(
        raw.contains("<hello@switchboard.example>"),
        "our address: {raw}"
    );
    assert!(
        raw.contains("Acme"),
        "the agency's name as the sender: {raw}"
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("text/plain") && raw.contains("text/html"),
        "{raw}"
    );
    // The HTML part may be quoted-printable: undo soft line breaks and `=3D`.
    let html = raw.replace("=\r\n", "").replace("=3D", "=");
    assert!(
        html.contains("background:#aa3300"),
        "the brand colour: {html}"
    );
    assert!(
        html.contains("https://acme.example/logo.png"),
        "the logo: {html}"
    );
    assert!(
        html.contains("Acme &lt;Texting&gt;") || html.contains("Acme &#60;Texting&#62;"),
        "escaped: {html}"
    );
    assert!(
        !html.contains("Acme <Texting></td>"),
        "never raw markup: {html}"
    );
    assert!(
        html.contains("href=\"https://switchboard.example/invite/abc\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_bad_recipient_is_refused_before_anything_is_sent() {
    let smtp = SmtpServer::start();
    let url = format!("smtp://127.0.0.1:{}", smtp.port);
    let mailer = mailer(&[("SWITCHBOARD_SMTP_URL", &url)]).unwrap();
    for bad in ["", "not an address", "a@b\r\nBcc: victim@example.com"] {
        let e = mailer.send(&invitation(bad)).await.unwrap_err();
        assert!(matches!(e, MailError::BadAddress(..)), "{bad:?}: {e}");
    }
    assert!(smtp.received().is_empty());
}

#[tokio::test]
async fn without_a_server_sending_says_so() {
    let mailer = mailer(&[]).unwrap();
    assert!(!mailer.is_configured());
    let e = mailer
        .send(&invitation("ana@client.example"))
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::NotConfigured), "{e}");
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_that_does_not_repeat_its_password() {
    let url = format!("smtp://mailer:s3cret-pass@127.0.0.1:{}", free_port());
    let mailer = mailer(&[("SWITCHBOARD_SMTP_URL", &url)]).unwrap();
    let e = mailer
        .send(&invitation("ana@client.example"))
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::Send(_)), "{e}");
    assert!(!e.to_string().contains("s3cret-pass"), "{e}");
    assert!(!format!("{mailer:?}").contains("s3cret-pass"));
}

#[test]
fn a_bad_sender_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let vars = vec![
        (
            "SWITCHBOARD_DATA_DIR".to_string(),
            dir.path().display().to_string(),
        ),
        (
            "SWITCHBOARD_MAIL_FROM".to_string(),
            "no at sign".to_string(),
        ),
    ];
    assert!(config::Config::load(None, vars).is_err());
}
