//! GHL's published webhook public keys and the parsing of configured ones.

// One trait (spki's) serves both key types.
use ed25519_dalek::pkcs8::DecodePublicKey as _;
use ed25519_dalek::VerifyingKey;
use rsa::pkcs1::DecodeRsaPublicKey as _;
use rsa::RsaPublicKey;

use crate::{Error, KeyKind};

/// GHL's Ed25519 key for `X-GHL-Signature` (SPKI PEM).
///
/// Known only through third parties that cite GHL's Webhook Integration Guide (they all
/// agree); re-check it against the live guide before shipping. Operators can override it
/// (`SWITCHBOARD_GHL_WEBHOOK_PUBLIC_KEY`) when GHL rotates it: no key id is sent.
pub const GHL_ED25519_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAi2HR1srL4o18O8BRa7gVJY7G7bupbN3H9AwJrHCDiOg=
-----END PUBLIC KEY-----
";

/// GHL's 4096-bit RSA key for the legacy `X-WH-Signature` (SPKI PEM), verbatim from GHL's
/// webhook authentication doc. The header is being retired in favour of Ed25519.
pub const GHL_LEGACY_RSA_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSC
Frm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6
dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfB
csedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpv
uxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF
3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKU
J062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXp
IocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzN
h/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhC
HULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJ
PQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAyk
T1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==
-----END PUBLIC KEY-----
";

/// Keys often arrive through environment variables with their newlines written as `\n`
/// and with stray surrounding whitespace; both are undone before parsing.
fn normalise(pem: &str) -> String {
    pem.trim().replace("\\n", "\n")
}

pub(super) fn ed25519_from_pem(pem: &str) -> Result<VerifyingKey, Error> {
    VerifyingKey::from_public_key_pem(&normalise(pem)).map_err(|err| Error::BadKey {
        key: KeyKind::Ed25519,
        detail: format!("expected an Ed25519 `BEGIN PUBLIC KEY` PEM: {err}"),
    })
}

/// Accepts SPKI (`BEGIN PUBLIC KEY`, what GHL publishes) and PKCS#1
/// (`BEGIN RSA PUBLIC KEY`).
pub(super) fn rsa_from_pem(pem: &str) -> Result<RsaPublicKey, Error> {
    let pem = normalise(pem);
    RsaPublicKey::from_public_key_pem(&pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(&pem))
        .map_err(|err| Error::BadKey {
            key: KeyKind::LegacyRsa,
            detail: format!("expected an RSA `BEGIN PUBLIC KEY` PEM: {err}"),
        })
}
