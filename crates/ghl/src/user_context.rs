//! The user context GHL gives a Marketplace custom page (reference `ghl-api.md` §2.7).
//!
//! The page asks its parent window for `REQUEST_USER_DATA` and gets an encrypted payload,
//! made with `CryptoJS.AES.encrypt(json, sharedSecret)`: CryptoJS's passphrase mode, which
//! is OpenSSL's `enc` format — base64 of `Salted__`, an 8-byte salt and the AES-256-CBC
//! ciphertext (PKCS#7 padding), with key and IV derived from the passphrase and salt by
//! `EVP_BytesToKey` with MD5 and one round. The tests check it against `openssl enc`
//! output, an implementation independent of ours.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

const MAGIC: &[u8] = b"Salted__";
/// The longest payload we try to decrypt: a user context is a few hundred bytes.
const MAX_PAYLOAD: usize = 16 * 1024;

/// Who opened the custom page, as GHL says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserContext {
    pub user_id: String,
    pub company_id: String,
    /// `admin` or `user`.
    pub role: String,
    /// `agency` (an agency user) or `account` (a sub-account user).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub user_name: String,
    pub email: String,
    /// The location the user is in, when the page opens in a sub-account.
    #[serde(default)]
    pub active_location: Option<String>,
}

/// Why a payload could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserContextError {
    #[error("the user context is not in CryptoJS's salted format")]
    Malformed,
    #[error("the user context does not decrypt with the shared secret")]
    WrongSecret,
    #[error("the user context is not the JSON GHL sends: {0}")]
    BadJson(String),
}

/// OpenSSL's `EVP_BytesToKey` with MD5, one round: a 32-byte key and a 16-byte IV.
fn key_and_iv(passphrase: &[u8], salt: &[u8]) -> ([u8; 32], [u8; 16]) {
    let mut derived = Vec::with_capacity(48);
    let mut block: Vec<u8> = Vec::new();
    while derived.len() < 48 {
        let mut md5 = Md5::new();
        md5.update(&block);
        md5.update(passphrase);
        md5.update(salt);
        block = md5.finalize().to_vec();
        derived.extend_from_slice(&block);
    }
    let mut key = [0u8; 32];
    let mut iv = [0u8; 16];
    key.copy_from_slice(&derived[..32]);
    iv.copy_from_slice(&derived[32..48]);
    (key, iv)
}

/// Decrypts and reads a custom page's payload.
pub fn decrypt(payload: &str, shared_secret: &str) -> Result<UserContext, UserContextError> {
    let payload = payload.trim();
    if payload.len() > MAX_PAYLOAD {
        return Err(UserContextError::Malformed);
    }
    let raw = STANDARD
        .decode(payload)
        .map_err(|_| UserContextError::Malformed)?;
    if raw.len() < 32 || !raw.starts_with(MAGIC) || (raw.len() - 16) % 16 != 0 {
        return Err(UserContextError::Malformed);
    }
    let (salt, ciphertext) = raw[8..].split_at(8);
    let (key, iv) = key_and_iv(shared_secret.as_bytes(), salt);
    let plain = cbc::Decryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(ciphertext)
        .map_err(|_| UserContextError::WrongSecret)?;
    // A wrong secret passes the padding check one time in 256 and gives garbage.
    let text = String::from_utf8(plain).map_err(|_| UserContextError::WrongSecret)?;
    serde_json::from_str(&text).map_err(|e| UserContextError::BadJson(e.to_string()))
}

/// Encrypts a user context as GHL does (the sandbox plays GHL's side with it), under
/// `salt`.
pub fn encrypt(context: &UserContext, shared_secret: &str, salt: [u8; 8]) -> String {
    let json = serde_json::to_vec(context).unwrap_or_default();
    let (key, iv) = key_and_iv(shared_secret.as_bytes(), &salt);
    let ciphertext = cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(&json);
    let mut raw = Vec::with_capacity(16 + ciphertext.len());
    raw.extend_from_slice(MAGIC);
    raw.extend_from_slice(&salt);
    raw.extend_from_slice(&ciphertext);
    STANDARD.encode(raw)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// `openssl enc -aes-256-cbc -md md5 -pass pass:shared-secret-1 -a -A` of a user
    /// context as the reference describes it.
    const OPENSSL: &str = "U2FsdGVkX1+rTH7mMEftjVoQMXeVjYUkK9o28osCcL2wZ8ptkHM5PLuectnXH3p8HFI74NamUiCHnYvayrM2Oz2WKyX16vb8Kt1O3kQedKKD+e3QzdFrvrTwSd9GdYq5cTSJlL8o3tUnCAbN/LPhH/4aPHqg9xSVj5TRJEVjkuNApweh3RaIjBu56kFP6BlMc7G/7PdyoeUl10q5sOOS1WccD4AIzi4uEtVsaJ1b1prwS1T3O9FNYt1n71edp6cNzz7UyDjHtWz8vWtmnJmDJ72LWbowGNQByLF09+0XPNo=";

    fn expected() -> UserContext {
        UserContext {
            user_id: "MKQJ7wOVVmNOMvrnKKKK".into(),
            company_id: "GNb7aIv4rQFVb9iwNl5K".into(),
            role: "admin".into(),
            kind: "agency".into(),
            user_name: "Ana Díaz".into(),
            email: "ana@agency.example".into(),
            active_location: Some("sbLoc0000000000000001".into()),
        }
    }

    #[test]
    fn decrypts_what_openssl_encrypted() {
        assert_eq!(decrypt(OPENSSL, "shared-secret-1").unwrap(), expected());
    }

    #[test]
    fn round_trips_and_refuses_a_wrong_secret_or_a_damaged_payload() {
        let payload = encrypt(&expected(), "s3cret", *b"saltsalt");
        assert_eq!(decrypt(&payload, "s3cret").unwrap(), expected());
        assert!(decrypt(&payload, "other").is_err());
        assert_eq!(
            decrypt(OPENSSL, "shared-secret-2").unwrap_err(),
            UserContextError::WrongSecret
        );
        assert_eq!(
            decrypt("not base64!", "s3cret").unwrap_err(),
            UserContextError::Malformed
        );
        assert_eq!(
            decrypt("U2FsdGVkX18=", "s3cret").unwrap_err(),
            UserContextError::Malformed
        );
        let mut damaged = STANDARD.decode(&payload).unwrap();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(decrypt(&STANDARD.encode(damaged), "s3cret").is_err());
        assert!(decrypt(&"A".repeat(MAX_PAYLOAD + 4), "s3cret").is_err());
    }
}
