//! `switchboard location add`: register a GHL location by hand (before the Marketplace
//! install flow exists, and for operators who install with their own tokens).

use std::path::Path;

use anyhow::{ensure, Result};
use serde_json::json;
use store::repo::NewLocation;
use store::TenantScope;

use crate::cli::LocationAddArgs;
use crate::startup;

pub(crate) async fn add(config_path: Option<&Path>, args: LocationAddArgs) -> Result<()> {
    ensure!(
        !args.ghl_location_id.trim().is_empty(),
        "--ghl-location-id is empty"
    );
    ensure!(
        !args.access_token.trim().is_empty(),
        "--access-token is empty"
    );
    ensure!(
        !args.refresh_token.trim().is_empty(),
        "--refresh-token is empty"
    );
    ensure!(
        args.expires_in > 0,
        "--expires-in must be a positive number of seconds"
    );
    let config = startup::load(config_path)?;
    let store = startup::open_store(&config).await?;
    let mut tx = store.begin().await?;
    let agency = store
        .upsert_agency(&mut tx, &args.agency_name, args.company_id.as_deref())
        .await?;
    let location = store
        .upsert_location(
            &mut tx,
            &agency,
            &NewLocation {
                ghl_location_id: args.ghl_location_id.trim().to_string(),
                name: args.name.clone(),
                time_zone: None,
                conversation_provider_id: args.conversation_provider_id.clone(),
            },
        )
        .await?;
    let expires_at_ms = store
        .db()
        .now_ms()
        .saturating_add(args.expires_in.saturating_mul(1000));
    let scope = TenantScope::for_location(&location);
    store
        .set_location_tokens(
            &mut tx,
            &scope,
            &location.id,
            &args.access_token,
            &args.refresh_token,
            Some(expires_at_ms),
        )
        .await?;
    store
        .audit(
            &mut tx,
            Some(&agency.id),
            "operator",
            "location.add",
            Some(location.id.as_str()),
            json!({"ghl_location_id": location.ghl_location_id}),
        )
        .await?;
    tx.commit().await?;
    if args.json {
        println!(
            "{}",
            json!({
                "location_id": location.id,
                "ghl_location_id": location.ghl_location_id,
                "agency_id": agency.id,
                "conversation_provider_id": location.conversation_provider_id,
            })
        );
    } else {
        println!(
            "location {} (GHL {}) in agency {}",
            location.id, location.ghl_location_id, agency.id
        );
    }
    store.db().close().await;
    Ok(())
}
