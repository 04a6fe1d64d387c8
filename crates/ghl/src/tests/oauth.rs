use http::Method;
use outbound::Failure;

use super::{header, response, BASE};
use crate::api::{
    exchange_code_request, location_token_request, parse_token, refresh_token_request, UserType,
};
use crate::Error;

fn form(request: &outbound::ApiRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn exchange_code_is_a_form_post_without_version() {
    let request = exchange_code_request(
        BASE,
        "app-1",
        "s3cret+/=",
        "the code",
        Some("https://sb.example/oauth/ghl/callback"),
    );
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/oauth/token"
    );
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(header(&request, "accept"), Some("application/json"));
    assert_eq!(header(&request, "version"), None);
    assert_eq!(header(&request, "authorization"), None);
    assert_eq!(
        form(&request),
        pairs(&[
            ("client_id", "app-1"),
            ("client_secret", "s3cret+/="),
            ("grant_type", "authorization_code"),
            ("code", "the code"),
            ("redirect_uri", "https://sb.example/oauth/ghl/callback"),
        ])
    );
    let without = exchange_code_request(BASE, "app-1", "s", "c", None);
    assert!(!form(&without).iter().any(|(k, _)| k == "redirect_uri"));
}

#[test]
fn refresh_sends_the_refresh_token_and_user_type() {
    let request = refresh_token_request(
        "http://127.0.0.1:9000/ghl/",
        "app-1",
        "s",
        "rt-1",
        Some(UserType::Location),
    );
    assert_eq!(request.url, "http://127.0.0.1:9000/ghl/oauth/token");
    assert_eq!(
        form(&request),
        pairs(&[
            ("client_id", "app-1"),
            ("client_secret", "s"),
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt-1"),
            ("user_type", "Location"),
        ])
    );
    let request = refresh_token_request(BASE, "a", "s", "rt", None);
    assert_eq!(form(&request).len(), 4);
}

#[test]
fn location_token_uses_the_agency_token() {
    let request = location_token_request(BASE, "agency-token", "co-1", "loc-1");
    assert_eq!(request.method, Method::POST);
    assert_eq!(
        request.url,
        "https://services.leadconnectorhq.com/oauth/locationToken"
    );
    assert_eq!(
        header(&request, "authorization"),
        Some("Bearer agency-token")
    );
    assert_eq!(header(&request, "version"), Some("2021-07-28"));
    assert_eq!(
        header(&request, "content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        form(&request),
        pairs(&[("companyId", "co-1"), ("locationId", "loc-1")])
    );
}

#[test]
fn reads_a_grant() {
    let body = r#"{"access_token":"ab12","token_type":"Bearer","expires_in":86399,"refresh_token":"xy34","scope":"conversations/message.readonly conversations/message.write","userType":"Location","locationId":"l1","companyId":"c1","approvedLocations":["l1"],"userId":"u1","planId":"p1","isBulkInstallation":false,"traceId":"t"}"#;
    let grant = parse_token(&response(200, body)).unwrap();
    assert_eq!(grant.access_token, "ab12");
    assert_eq!(grant.refresh_token.as_deref(), Some("xy34"));
    assert_eq!(grant.expires_in, Some(86_399));
    assert_eq!(grant.user_type(), Some(UserType::Location));
    assert_eq!(grant.location_id.as_deref(), Some("l1"));
    assert_eq!(grant.company_id.as_deref(), Some("c1"));
    assert_eq!(grant.user_id.as_deref(), Some("u1"));
    assert_eq!(grant.approved_locations, vec!["l1".to_owned()]);
    assert_eq!(grant.is_bulk_installation, Some(false));
    let debug = format!("{grant:?}");
    assert!(
        !debug.contains("ab12") && !debug.contains("xy34"),
        "{debug}"
    );

    let company = parse_token(&response(
        200,
        r#"{"access_token":"a","userType":"Company","companyId":"c","expires_in":86399.0}"#,
    ))
    .unwrap();
    assert_eq!(company.user_type(), Some(UserType::Company));
    assert_eq!(company.expires_in, Some(86_399));
    assert_eq!(company.refresh_token, None);

    // A location token minted from the agency's: no userType, maybe no refresh token.
    let minted = parse_token(&response(200, r#"{"access_token":"a","token_type":"Bearer","expires_in":86399,"scope":"s","locationId":"l","userId":"u","appId":"app","versionId":"v"}"#)).unwrap();
    assert_eq!(minted.user_type(), Some(UserType::Location));
    assert_eq!(minted.app_id.as_deref(), Some("app"));
}

#[test]
fn a_2xx_without_a_token_is_retried() {
    for body in ["", "{}", r#"{"access_token":""}"#, "<html>"] {
        assert!(
            matches!(
                parse_token(&response(200, body)),
                Err(Error::Call(Failure::Retry { .. }))
            ),
            "{body}"
        );
    }
}

#[test]
fn invalid_grant_is_told_apart() {
    for (status, body) in [
        (
            400,
            r#"{"error":"invalid_grant","error_description":"Invalid grant: refresh token is invalid"}"#,
        ),
        (
            400,
            r#"{"statusCode":400,"message":"Invalid refresh token"}"#,
        ),
        (
            401,
            r#"{"statusCode":401,"message":"Invalid token: refresh token has been revoked","error":"Unauthorized"}"#,
        ),
        (
            422,
            r#"{"statusCode":422,"message":["refresh token expired"],"error":"Unprocessable Entity"}"#,
        ),
        (400, "invalid_grant"),
    ] {
        assert!(
            matches!(
                parse_token(&response(status, body)),
                Err(Error::InvalidGrant { .. })
            ),
            "{status} {body}"
        );
    }
}

#[test]
fn other_token_errors_are_permanent_or_transient() {
    for (status, body) in [
        (
            400,
            r#"{"statusCode":400,"message":"Location is not active"}"#,
        ),
        (
            401,
            r#"{"error":"invalid_client","error_description":"Invalid client_id"}"#,
        ),
        (
            422,
            r#"{"statusCode":422,"message":["grant_type must be one of the following values"]}"#,
        ),
        (400, ""),
    ] {
        assert!(
            matches!(
                parse_token(&response(status, body)),
                Err(Error::Call(Failure::Permanent { .. }))
            ),
            "{status} {body}"
        );
    }
    assert!(matches!(
        parse_token(&response(500, "oops")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
    assert!(matches!(
        parse_token(&response(502, "")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
    assert!(matches!(
        parse_token(&response(429, "")),
        Err(Error::Call(Failure::RateLimited { .. }))
    ));
    assert!(matches!(
        parse_token(&response(408, "")),
        Err(Error::Call(Failure::Retry { .. }))
    ));
}
