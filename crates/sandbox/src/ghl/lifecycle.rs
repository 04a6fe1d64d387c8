//! `POST /_control/ghl/marketplace`: the Marketplace lifecycle webhooks (`INSTALL`,
//! `UNINSTALL`, `PLAN_CHANGE`) as GHL sends them, after changing the simulated install the
//! way the event says (a location installed later joins its company; an uninstall revokes
//! the tokens).

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::agency::{app_id, install_company};
use super::GhlState;
use crate::control::{parse, ControlError};
use crate::shared::{lock, Shared};
use crate::webhook::{deliver, Webhook};
use crate::{clock, ids};

/// `POST /_control/ghl/marketplace` {type: INSTALL|UNINSTALL|PLAN_CHANGE, locationId?,
/// companyId?, planId?, newPlanId?, url?}: updates the simulated install as GHL would, then
/// signs and posts GHL's flat lifecycle payload (with `webhookId` and `timestamp`) to
/// `{gateway}/webhooks/ghl`.
pub(crate) async fn marketplace(
    State(shared): State<Shared>,
    body: Bytes,
) -> Result<Json<Value>, ControlError> {
    let body: Value = parse(&body)?;
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let kind = text("type").ok_or_else(|| ControlError::bad_request("type is required"))?;
    let (location_id, company_id) = (text("locationId"), text("companyId"));
    let mut payload = json!({"type": kind, "appId": app_id(&shared)});
    {
        let mut state = lock(&shared.ghl);
        let expires_in = shared.options.ghl_token_expires_in;
        let company_of = |state: &GhlState, location: &Option<String>| {
            location
                .as_ref()
                .and_then(|l| state.locations.get(l))
                .map(|l| l.company_id.clone())
        };
        match kind.as_str() {
            "INSTALL" => {
                let location = location_id
                    .clone()
                    .ok_or_else(|| ControlError::bad_request("INSTALL needs locationId"))?;
                let company = company_id
                    .clone()
                    .or_else(|| company_of(&state, &location_id))
                    .unwrap_or_else(ids::ghl_id);
                install_company(
                    &mut state,
                    &company,
                    std::slice::from_ref(&location),
                    expires_in,
                );
                let user = state.companies.get(&company).map(|c| c.user_id.clone());
                payload["locationId"] = location.into();
                payload["companyId"] = company.into();
                payload["userId"] = user.into();
                payload["planId"] = text("planId").into();
                payload["isWhitelabelCompany"] = false.into();
                payload["companyName"] = "Sandbox Agency".into();
            }
            "UNINSTALL" => match (&location_id, &company_id) {
                (Some(location), _) => {
                    for company in state.companies.values_mut() {
                        company.locations.retain(|l| l != location);
                    }
                    state
                        .access_tokens
                        .retain(|_, g| &g.location_id != location);
                    state.refresh_tokens.retain(|_, l| l != location);
                    payload["locationId"] = location.clone().into();
                }
                (None, Some(company)) => {
                    if let Some(c) = state.companies.remove(company) {
                        state
                            .access_tokens
                            .retain(|_, g| !c.locations.contains(&g.location_id));
                        state.refresh_tokens.retain(|_, l| !c.locations.contains(l));
                    }
                    state.company_tokens.retain(|_, g| &g.company_id != company);
                    state.company_refresh_tokens.retain(|_, c| c != company);
                    payload["companyId"] = company.clone().into();
                }
                (None, None) => {
                    return Err(ControlError::bad_request(
                        "UNINSTALL needs locationId or companyId",
                    ))
                }
            },
            "PLAN_CHANGE" => {
                let company = company_id
                    .clone()
                    .or_else(|| company_of(&state, &location_id));
                let new_plan = text("newPlanId")
                    .ok_or_else(|| ControlError::bad_request("PLAN_CHANGE needs newPlanId"))?;
                let current = company
                    .as_ref()
                    .and_then(|c| state.companies.get_mut(c))
                    .and_then(|c| c.plan_id.replace(new_plan.clone()));
                payload["locationId"] = location_id.clone().into();
                payload["companyId"] = company.into();
                payload["currentPlanId"] = current.or_else(|| text("planId")).into();
                payload["newPlanId"] = new_plan.into();
            }
            other => {
                return Err(ControlError::bad_request(format!(
                    "type must be INSTALL, UNINSTALL or PLAN_CHANGE, not {other}"
                )))
            }
        }
    }
    payload["timestamp"] = clock::now_iso().into();
    payload["webhookId"] = ids::uuid_v4().into();
    let url = text("url")
        .or_else(|| shared.gateway().map(|g| format!("{g}/webhooks/ghl")))
        .ok_or_else(|| {
            ControlError::bad_request(
                "no gateway URL: set gateway_base_url or PUT /_control/gateway",
            )
        })?;
    let raw = serde_json::to_vec(&payload).map_err(|e| ControlError::bad_request(e.to_string()))?;
    let hook = Webhook {
        url,
        headers: vec![("x-ghl-signature", shared.ghl_sign(&raw))],
        body: raw,
    };
    let delivery = deliver(&shared, super::SIMULATOR.name, hook).await;
    Ok(Json(
        json!({"payload": payload, "gatewayStatus": delivery.status, "delivery": delivery}),
    ))
}
