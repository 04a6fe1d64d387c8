//! A channel's credentials: provider-specific `key = value` pairs, as typed in
//! `channel add --credential KEY=VALUE` and stored encrypted.
//!
//! A map rather than one struct per provider, so the CLI, the API and the store carry them
//! without knowing any provider; each channel says which keys it needs
//! ([`CredentialSpec`]) and reads them with [`Credentials::require`]. The values are
//! secrets: `Debug` prints the keys only, so a stray `{:?}` in a log leaks nothing.

use std::collections::BTreeMap;
use std::fmt;

use domain::Provider;

use crate::ChannelError;

/// Provider-specific credentials. Keys per provider are listed in DESIGN's table.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials(BTreeMap<String, String>);

impl Credentials {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces one credential.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.insert(key.into(), value.into());
    }

    /// Adds one credential, builder style.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// The value, if present and not blank.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value, or an error naming the missing key and provider, so the operator knows
    /// exactly what to add.
    pub fn require(&self, provider: Provider, key: &'static str) -> Result<&str, ChannelError> {
        self.get(key)
            .ok_or(ChannelError::MissingCredential { provider, key })
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The pairs, for storing (encrypted) and nothing else.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn into_inner(self) -> BTreeMap<String, String> {
        self.0
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

impl From<BTreeMap<String, String>> for Credentials {
    fn from(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Credentials {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// The credential keys a provider takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialSpec {
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
}

impl CredentialSpec {
    /// Every required key present and non-blank, and no key the provider does not take.
    pub fn check(&self, provider: Provider, credentials: &Credentials) -> Result<(), ChannelError> {
        for key in self.required {
            credentials.require(provider, key)?;
        }
        if let Some(unknown) = credentials
            .keys()
            .find(|k| !self.required.contains(k) && !self.optional.contains(k))
        {
            return Err(ChannelError::UnknownCredential {
                provider,
                key: unknown.to_string(),
                expected: self
                    .required
                    .iter()
                    .chain(self.optional)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(())
    }
}
