//! The dashboard: its pages and forms over HTTP (`pages`), and in headless Chromium
//! (`flows`), against a real gateway, its workers and the sandbox's simulators.

mod browser;
mod channel_flows;
mod channels;
mod flows;
mod ghl_page;
mod knowledge;
mod pages;
mod screenshots;
mod settings;
mod settings_ai;
mod settings_flows;
mod settings_keys;
mod uploads;
mod usage;
mod usage_flow;

use reqwest::StatusCode;
use store::repo::NewUser;

use crate::bridge::Bridge;

pub const PASSWORD: &str = "correct horse battery staple";
pub const EMAIL: &str = "owner@agency.example";

/// A gateway with a SendBlue line and an agency admin who can sign in.
pub struct Dashboard {
    pub bridge: Bridge,
}

impl Dashboard {
    pub async fn start() -> Self {
        let bridge = Bridge::start().await;
        add_user(&bridge, EMAIL, "agency_admin", true).await;
        Self { bridge }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.bridge.gateway)
    }
}

/// A user of the bridge's agency (agency-wide), or of another agency's location.
pub async fn add_user(bridge: &Bridge, email: &str, role: &str, ours: bool) {
    let store = &bridge.test.store;
    let (agency_id, location_id) = if ours {
        (Some(bridge.location.agency_id.clone()), None)
    } else {
        let mut tx = store.begin().await.unwrap();
        let agency = store
            .upsert_agency(&mut tx, "Elsewhere", Some("company-elsewhere"))
            .await
            .unwrap();
        let location = store
            .create_location(
                &mut tx,
                &agency,
                &store::repo::NewLocation {
                    ghl_location_id: "ghl-elsewhere".into(),
                    name: "Elsewhere".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (Some(agency.id), Some(location.id))
    };
    let mut tx = store.begin().await.unwrap();
    store
        .create_user(
            &mut tx,
            &NewUser {
                email: email.into(),
                name: "Someone".into(),
                role: role.into(),
                password_hash: Some(server::auth::hash_password(PASSWORD).unwrap()),
                agency_id,
                location_id,
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// A browser-like client: keeps the cookies it is given, follows no redirect.
pub struct Session {
    client: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
    base: String,
}

impl Session {
    pub fn new(d: &Dashboard) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Default::default(),
            base: d.bridge.gateway.clone(),
        }
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all(reqwest::header::SET_COOKIE) {
            let pair = value.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.into(), value.into());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.get(name).cloned()
    }

    pub fn forget(&mut self, name: &str) {
        self.cookies.remove(name);
    }

    pub async fn get(&mut self, path: &str) -> reqwest::Response {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// A form post; `csrf` is added as the form's token.
    pub async fn post(
        &mut self,
        path: &str,
        csrf: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("csrf", csrf)];
        form.extend_from_slice(fields);
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .form(&form)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// A `multipart/form-data` post, as a form with a file input sends it: `csrf` first,
    /// then `fields`, then `files` as (field name, file name, content type, bytes).
    pub async fn post_multipart(
        &mut self,
        path: &str,
        csrf: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, &str, &[u8])],
    ) -> reqwest::Response {
        const BOUNDARY: &str = "----switchboard-test-boundary";
        let mut body = Vec::new();
        let mut fields_in_order = vec![("csrf", csrf)];
        fields_in_order.extend_from_slice(fields);
        for (name, value) in fields_in_order {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                )
                .as_bytes(),
            );
        }
        for (name, file_name, content_type, bytes) in files {
            body.extend_from_slice(
                format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                     filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, self.cookie_header())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        self.keep(&response);
        response
    }

    /// Signs in through the form.
    pub async fn sign_in(&mut self, email: &str) {
        let page = self.get("/login").await;
        assert_eq!(page.status(), StatusCode::OK);
        let csrf = field(&page.text().await.unwrap(), "csrf");
        let answer = self
            .post(
                "/login",
                &csrf,
                &[("email", email), ("password", PASSWORD), ("next", "/inbox")],
            )
            .await;
        assert_eq!(answer.status(), StatusCode::SEE_OTHER, "sign-in");
        assert_eq!(answer.headers()["location"], "/inbox");
    }

    /// The session's CSRF token.
    pub fn csrf(&self) -> String {
        self.cookie("sb_csrf").expect("a CSRF cookie")
    }
}

/// The value of the first hidden `name` field of a page.
pub fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} field"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}
