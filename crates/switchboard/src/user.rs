//! `switchboard user add`: create a dashboard user (the first agency admin, an operator)
//! until invitations exist.
//!
//! The password never appears as an argument (arguments show in `ps` and shell history):
//! it is read from `--password-file` or `SWITCHBOARD_NEW_USER_PASSWORD`.

use anyhow::{bail, ensure, Context, Result};
use domain::{AgencyId, LocationId};
use serde_json::json;
use server::auth::{hash_password, Role};
use store::repo::{NewAuditEntry, NewUser};
use store::Store;

use crate::cli::UserAddArgs;
use crate::startup;

/// Where the password comes from when no file is given.
pub const PASSWORD_ENV: &str = "SWITCHBOARD_NEW_USER_PASSWORD";

fn password(args: &UserAddArgs) -> Result<String> {
    if let Some(path) = &args.password_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--password-file {}", path.display()))?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    match std::env::var(PASSWORD_ENV) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => bail!("give the password in --password-file or {PASSWORD_ENV}"),
    }
}

/// The agency and location the role calls for, checked against the store.
async fn tenant(
    store: &Store,
    role: Role,
    args: &UserAddArgs,
) -> Result<(Option<AgencyId>, Option<LocationId>)> {
    match role {
        Role::Operator => {
            ensure!(
                args.agency.is_none() && args.location.is_none(),
                "an operator belongs to no agency or location"
            );
            Ok((None, None))
        }
        Role::AgencyAdmin => {
            ensure!(
                args.location.is_none(),
                "an agency_admin takes --agency, not --location"
            );
            let Some(given) = &args.agency else {
                bail!("an agency_admin needs --agency ID");
            };
            let id: AgencyId = given.parse()?;
            let agency = store
                .agency(&id)
                .await
                .with_context(|| format!("agency {given}"))?;
            Ok((Some(agency.id), None))
        }
        Role::LocationAdmin | Role::Agent => {
            ensure!(
                args.agency.is_none(),
                "a {role} takes --location (its agency follows), not --agency"
            );
            let Some(given) = &args.location else {
                bail!("a {role} needs --location ID (ours or GHL's)");
            };
            let location = match given.parse::<LocationId>() {
                Ok(id) => store.location_for_operator(&id).await,
                Err(_) => store.location_by_ghl_id(given).await,
            }
            .with_context(|| format!("location {given}"))?;
            Ok((Some(location.agency_id), Some(location.id)))
        }
    }
}

pub(crate) async fn add(config_path: Option<&std::path::Path>, args: UserAddArgs) -> Result<()> {
    let email = store::repo::normalize_email(&args.email);
    ensure!(
        email.contains('@') && !email.starts_with('@') && !email.ends_with('@'),
        "--email {:?} is not an email address",
        args.email
    );
    let role: Role = args.role.parse()?;
    let password = password(&args)?;
    let password_hash = hash_password(&password)?;
    let config = startup::load(config_path)?;
    let store = startup::open_store(&config).await?;
    let (agency_id, location_id) = tenant(&store, role, &args).await?;
    let mut tx = store.begin().await?;
    let user = store
        .create_user(
            &mut tx,
            &NewUser {
                email,
                name: args.name.clone(),
                role: role.as_str().into(),
                password_hash: Some(password_hash),
                agency_id,
                location_id,
            },
        )
        .await?;
    store
        .append_audit(
            &mut tx,
            &NewAuditEntry {
                agency_id: user.agency_id.as_ref(),
                actor: "operator",
                action: "user.created",
                target: Some(user.id.as_str()),
                detail: json!({"role": user.role, "location_id": user.location_id}),
                request_id: None,
            },
        )
        .await?;
    tx.commit().await?;
    if args.json {
        println!(
            "{}",
            json!({
                "user_id": user.id,
                "email": user.email,
                "role": user.role,
                "agency_id": user.agency_id,
                "location_id": user.location_id,
            })
        );
    } else {
        println!("user {} <{}> ({})", user.id, user.email, user.role);
    }
    store.db().close().await;
    Ok(())
}
