//! Passwords: argon2id with the crate's default (OWASP-recommended) parameters, hashed
//! and checked off the async threads because each takes tens of milliseconds by design.

use std::sync::LazyLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password we accept when one is set.
pub const MIN_PASSWORD_LEN: usize = 12;

/// Why a password can't be set.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// The PHC string (`$argon2id$v=19$…`) for `password`.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// A random password of 24 hex characters (96 bits), for seeded accounts.
pub fn generate_password() -> String {
    use argon2::password_hash::rand_core::RngCore;
    let mut bytes = [0u8; 12];
    OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `password` matches `hash`; a malformed hash matches nothing.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A hash no password opens, checked against when the email is unknown or has no
/// password, so those answers take as long as a wrong password and can't be told apart
/// by timing.
static DECOY: LazyLock<String> =
    LazyLock::new(|| hash_password("decoy password that is never accepted").unwrap_or_default());

/// Checks `password` against `hash`, or against the decoy when there is none; off the
/// async threads.
pub async fn check_password(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_password(&hash, &password),
        None => {
            verify_password(&DECOY, &password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&hash, "correct horse battery"));
        assert!(!verify_password(&hash, "correct horse battery!"));
        assert!(!verify_password("not a hash", "x"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
    }
}
