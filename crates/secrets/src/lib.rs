//! Secrets at rest: AES-256-GCM under a versioned key ring.
//!
//! Every OAuth token and provider credential Switchboard stores goes through [`KeyRing`].
//! A ciphertext names the key version that sealed it (`v3.…`), so after a rotation the ring
//! still opens old rows with the previous key while new rows use the current one, and
//! `keys rotate` can find and re-seal what is left. The version and a caller-chosen
//! *context* (for example `channel:ch_…:credentials`) are bound in as associated data: a
//! ciphertext copied into another row, or relabelled with another version, fails to open
//! instead of decrypting to the wrong secret. Any failure is an error; nothing ever
//! returns garbage.
#![forbid(unsafe_code)]

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use zeroize::Zeroizing;

/// Bytes of an AES-256 key.
const KEY_LEN: usize = 32;
/// Bytes of an AES-GCM nonce (random per encryption).
const NONCE_LEN: usize = 12;

/// A problem with key material given by an operator.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("must be 32 bytes of standard base64, got {0} bytes")]
    WrongLength(usize),
    #[error("is not valid standard base64")]
    NotBase64,
    #[error("key version {0:?} is not a whole number of at least 1")]
    BadVersion(String),
    #[error("key version {0} appears twice in the key ring")]
    DuplicateVersion(u32),
}

/// A failure to open a ciphertext. Deliberately coarse: it never says which byte was wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("ciphertext is malformed (expected `v<version>.<base64>`)")]
    Malformed,
    #[error("ciphertext was sealed with key version {0}, which is not in the key ring (set SWITCHBOARD_PREVIOUS_MASTER_KEYS)")]
    UnknownVersion(u32),
    #[error(
        "ciphertext does not open with key version {0}: wrong key, wrong context or tampered data"
    )]
    Rejected(u32),
}

/// One 256-bit master key with its version number.
#[derive(Clone)]
pub struct MasterKey {
    version: u32,
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey(v{}, <redacted>)", self.version)
    }
}

impl MasterKey {
    /// Parses `BASE64` (version 1) or `N:BASE64` (version N), where BASE64 is standard
    /// base64 of exactly 32 bytes, as `openssl rand -base64 32` prints.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let (version, encoded) = match text.split_once(':') {
            Some((v, rest)) => {
                let version = v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|v| *v >= 1)
                    .ok_or_else(|| KeyError::BadVersion(v.to_string()))?;
                (version, rest.trim())
            }
            None => (1, text),
        };
        let decoded = Zeroizing::new(STANDARD.decode(encoded).map_err(|_| KeyError::NotBase64)?);
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::WrongLength(decoded.len()))?;
        Ok(Self::from_bytes(version, bytes))
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate(version: u32) -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        let mut bytes = [0u8; KEY_LEN];
        bytes.copy_from_slice(&key);
        Self::from_bytes(version, bytes)
    }

    fn from_bytes(version: u32, bytes: [u8; KEY_LEN]) -> Self {
        Self {
            version,
            bytes: Zeroizing::new(bytes),
        }
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The `N:BASE64` form [`MasterKey::parse`] reads back. It is the secret itself: write
    /// it only to a file the operator owns, never to a log.
    pub fn to_config_string(&self) -> String {
        format!("{}:{}", self.version, STANDARD.encode(*self.bytes))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&*self.bytes))
    }
}

/// The current key, which seals, and previous keys, which only open.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl KeyRing {
    /// Builds a ring; versions must be distinct.
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Result<Self, KeyError> {
        let mut seen = vec![current.version];
        for key in &previous {
            if seen.contains(&key.version) {
                return Err(KeyError::DuplicateVersion(key.version));
            }
            seen.push(key.version);
        }
        Ok(Self { current, previous })
    }

    /// The version new ciphertexts are sealed with.
    pub fn current_version(&self) -> u32 {
        self.current.version
    }

    /// Every version in the ring, the current one first.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|k| k.version)
    }

    /// Seals `plaintext` under the current key, bound to `context`.
    pub fn encrypt(&self, plaintext: &[u8], context: &str) -> String {
        let key = &self.current;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(key.version, context);
        let sealed = key
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .expect("AES-GCM encryption cannot fail for in-memory buffers");
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        format!("v{}.{}", key.version, URL_SAFE_NO_PAD.encode(blob))
    }

    /// Seals a UTF-8 string; see [`KeyRing::encrypt`].
    pub fn encrypt_str(&self, plaintext: &str, context: &str) -> String {
        self.encrypt(plaintext.as_bytes(), context)
    }

    /// Opens a ciphertext sealed by any key in the ring for the same `context`.
    pub fn decrypt(
        &self,
        ciphertext: &str,
        context: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let (version, blob) = split(ciphertext)?;
        let key = self
            .key(version)
            .ok_or(SecretError::UnknownVersion(version))?;
        if blob.len() < NONCE_LEN {
            return Err(SecretError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let aad = associated_data(version, context);
        key.cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Rejected(version))
    }

    /// Opens a ciphertext holding UTF-8 text.
    pub fn decrypt_str(
        &self,
        ciphertext: &str,
        context: &str,
    ) -> Result<Zeroizing<String>, SecretError> {
        let bytes = self.decrypt(ciphertext, context)?;
        String::from_utf8(bytes.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Rejected(self.version_of(ciphertext).unwrap_or(0)))
    }

    /// The key version a ciphertext names, without opening it.
    pub fn version_of(&self, ciphertext: &str) -> Result<u32, SecretError> {
        split(ciphertext).map(|(v, _)| v)
    }

    /// True when the ciphertext is sealed under an older key and should be re-sealed.
    pub fn needs_rotation(&self, ciphertext: &str) -> bool {
        self.version_of(ciphertext)
            .map(|v| v != self.current.version)
            .unwrap_or(false)
    }

    /// Opens with whichever key sealed it and seals again under the current key.
    pub fn reencrypt(&self, ciphertext: &str, context: &str) -> Result<String, SecretError> {
        let plaintext = self.decrypt(ciphertext, context)?;
        Ok(self.encrypt(&plaintext, context))
    }

    /// A key for another purpose (signing media links, …), derived from the current key
    /// as HMAC-SHA256(current key, `switchboard/derive/{label}`): the operator has nothing
    /// new to manage, the master key never leaves this crate, and each label gives an
    /// independent key. Rotating the master key changes every derived key, so whatever was
    /// signed with one (outstanding media links) stops verifying.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; KEY_LEN]> {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&*self.current.bytes)
            .expect("HMAC takes a key of any length");
        mac.update(format!("switchboard/derive/{label}").as_bytes());
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    fn key(&self, version: u32) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.version == version)
    }
}

/// Version and context are authenticated, so neither can be swapped without detection.
fn associated_data(version: u32, context: &str) -> Vec<u8> {
    format!("switchboard/v{version}/{context}").into_bytes()
}

fn split(ciphertext: &str) -> Result<(u32, Vec<u8>), SecretError> {
    let rest = ciphertext.strip_prefix('v').ok_or(SecretError::Malformed)?;
    let (version, encoded) = rest.split_once('.').ok_or(SecretError::Malformed)?;
    let version = version.parse::<u32>().map_err(|_| SecretError::Malformed)?;
    let blob = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| SecretError::Malformed)?;
    Ok((version, blob))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
