//! Settings: the agency's white-label brand (product name, logo, colours), shown on
//! every page of the agency's users and in its emails. Agency admins change it; others
//! see it. The users and API-keys sections are pages of their own
//! ([`super::settings_users`], [`super::settings_keys`]), linked from here.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use store::repo::Brand;

use super::page::{ok, render, store_error, Layout};
use super::viewer::{CsrfForm, Viewer};
use crate::auth::Permission;
use crate::AppState;

/// The longest product name.
const MAX_PRODUCT_NAME: usize = 60;
/// The longest logo URL.
const MAX_LOGO_URL: usize = 1024;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    product_name: String,
    logo_url: String,
    primary_color: String,
    accent_color: String,
    may_edit: bool,
    /// Whether to link the users and API-keys pages.
    may_manage_users: bool,
    may_manage_keys: bool,
    may_manage_ai: bool,
    errors: Vec<String>,
}

fn settings_page(
    viewer: &Viewer,
    layout: Layout,
    form: &Brand,
    may_edit: bool,
    errors: Vec<String>,
) -> SettingsPage {
    SettingsPage {
        may_manage_users: viewer.may(Permission::ManageUsers),
        may_manage_keys: viewer.may(Permission::ManageApiKeys),
        may_manage_ai: viewer.may(Permission::ManageAi),
        layout,
        product_name: form.product_name.clone(),
        logo_url: form.logo_url.clone().unwrap_or_default(),
        primary_color: form.primary_color.clone(),
        accent_color: form.accent_color.clone(),
        may_edit,
        errors,
    }
}

/// `GET /settings`.
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    let layout = Layout::new(&state, &viewer, "Settings", "settings").await;
    let may_edit = viewer.may(Permission::ManageBrand);
    ok(&settings_page(
        &viewer,
        layout,
        &viewer.brand,
        may_edit,
        Vec::new(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct BrandForm {
    #[serde(default)]
    product_name: String,
    #[serde(default)]
    logo_url: String,
    #[serde(default)]
    primary_color: String,
    #[serde(default)]
    accent_color: String,
}

/// `#rrggbb`, the only colour form we accept: it goes into the page's style.
pub fn is_hex_color(value: &str) -> bool {
    value.len() == 7 && value.starts_with('#') && value[1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The brand the form asks for, or what is wrong with it, field by field.
fn validate(form: BrandForm) -> Result<Brand, (Brand, Vec<String>)> {
    let brand = Brand {
        product_name: form.product_name.trim().to_string(),
        logo_url: Some(form.logo_url.trim().to_string()).filter(|u| !u.is_empty()),
        primary_color: form.primary_color.trim().to_ascii_lowercase(),
        accent_color: form.accent_color.trim().to_ascii_lowercase(),
    };
    let mut errors = Vec::new();
    let name_len = brand.product_name.chars().count();
    if name_len == 0
        || name_len > MAX_PRODUCT_NAME
        || brand.product_name.chars().any(char::is_control)
    {
        errors.push(format!(
            "Product name: 1 to {MAX_PRODUCT_NAME} characters, no control characters."
        ));
    }
    if let Some(url) = &brand.logo_url {
        let https = url::Url::parse(url).is_ok_and(|u| u.scheme() == "https");
        if !https || url.len() > MAX_LOGO_URL {
            errors.push("Logo: an https:// link to an image, or nothing.".into());
        }
    }
    if !is_hex_color(&brand.primary_color) {
        errors.push("Main colour: a colour like #1f4fd1.".into());
    }
    if !is_hex_color(&brand.accent_color) {
        errors.push("Accent colour: a colour like #0b7a5a.".into());
    }
    if errors.is_empty() {
        Ok(brand)
    } else {
        Err((brand, errors))
    }
}

/// `POST /settings/brand`.
pub async fn save_brand(
    State(state): State<AppState>,
    viewer: Viewer,
    CsrfForm(form): CsrfForm<BrandForm>,
) -> Response {
    if let Err(refused) = viewer.require(Permission::ManageBrand) {
        return refused;
    }
    let brand = match validate(form) {
        Ok(brand) => brand,
        Err((asked, errors)) => {
            let layout = Layout::new(&state, &viewer, "Settings", "settings").await;
            return render(
                StatusCode::UNPROCESSABLE_ENTITY,
                &settings_page(&viewer, layout, &asked, true, errors),
            );
        }
    };
    let store = &state.store;
    if let Err(e) = store.set_brand(&viewer.scope, &brand).await {
        return store_error(&viewer, e);
    }
    let audited = async {
        let mut tx = store.begin().await?;
        viewer
            .principal
            .audit(
                store,
                &mut tx,
                Some(viewer.scope.agency_id()),
                "brand.changed",
                Some(viewer.scope.agency_id().as_str()),
                json!({"product_name": brand.product_name}),
            )
            .await?;
        tx.commit().await
    };
    if let Err(e) = audited.await {
        return store_error(&viewer, e);
    }
    Redirect::to("/settings").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_six_digit_hex_colours_pass() {
        assert!(is_hex_color("#1f4fd1"));
        assert!(is_hex_color("#ABCDEF"));
        for bad in [
            "1f4fd1",
            "#1f4fd",
            "#1f4fd1a",
            "#gggggg",
            "red",
            "#1f4fd1;x:y",
            "",
        ] {
            assert!(!is_hex_color(bad), "{bad}");
        }
    }

    #[test]
    fn a_bad_form_names_every_bad_field() {
        let form = BrandForm {
            product_name: " ".into(),
            logo_url: "javascript:alert(1)".into(),
            primary_color: "red".into(),
            accent_color: "#00ff00".into(),
        };
        let Err((_, errors)) = validate(form) else {
            panic!("a bad form must not pass");
        };
        assert_eq!(errors.len(), 3, "{errors:?}");
    }
}
