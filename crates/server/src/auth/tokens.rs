//! Bearer secrets: random tokens (refresh, CSRF, API keys) and the signed access JWT.
//!
//! Access tokens are HS256 JWTs of 15 minutes under a key derived from the master key
//! (`KeyRing::derive("auth-access-jwt")`): nothing extra to configure, and rotating the
//! master key signs everyone out, as it should. The claims carry the user only; the
//! role and tenant are read from the database on each request, so a role change or a
//! "logout everywhere" takes effect at once.

use std::time::{SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// How long an access token lives.
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
/// How long a refresh token lives (each use issues a new one).
pub const REFRESH_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// `n` random bytes from the operating system, hex encoded.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new refresh token: 256 random bits.
pub fn new_refresh_token() -> String {
    format!("rt_{}", random_hex(32))
}

/// A new CSRF token for the double-submit cookie.
pub fn new_csrf_token() -> String {
    random_hex(24)
}

/// What an access token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// Issue time in ms, compared with the user's `tokens_valid_after` (logout
    /// everywhere), which seconds are too coarse for.
    pub iat_ms: i64,
    /// Always `access`: a token of another kind signed with the same key is refused.
    pub typ: String,
}

/// The access token signing and checking keys.
#[derive(Clone)]
pub struct AccessKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for AccessKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKeys(..)")
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl AccessKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// A signed access token for `user`, and its lifetime in seconds.
    pub fn issue(&self, user: &domain::UserId) -> Result<String, jsonwebtoken::errors::Error> {
        let now = now_ms();
        let claims = AccessClaims {
            sub: user.to_string(),
            iat: now / 1000,
            exp: now / 1000 + ACCESS_TTL_SECS,
            iat_ms: now,
            typ: "access".into(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a valid, unexpired access token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<AccessClaims> {
        jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
            .filter(|claims| claims.typ == "access")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_verify_only_under_their_key() {
        let keys = AccessKeys::new(&[7; 32]);
        let user = domain::UserId::new();
        let token = keys.issue(&user).unwrap();
        assert_eq!(keys.verify(&token).unwrap().sub, user.to_string());
        assert!(AccessKeys::new(&[8; 32]).verify(&token).is_none());
        let mut tampered = token.clone();
        tampered.push('x');
        assert!(keys.verify(&tampered).is_none());
        assert!(keys.verify("not.a.jwt").is_none());
    }
}
