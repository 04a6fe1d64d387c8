//! Layering of raw values: the config file first, then the environment on top.
//!
//! This module knows setting names and where each raw string came from, nothing about what
//! the strings mean; [`crate::parse`] turns them into typed values. A value read from a
//! `…_FILE` is read only if its layer wins, so a stale file path overridden by a variable is
//! never touched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, Origin};

/// Prefix of every environment variable Switchboard reads.
pub const ENV_PREFIX: &str = "SWITCHBOARD_";

/// Not a setting: the CLI reads the config file's path from it (`--config`).
pub const CONFIG_FILE_ENV: &str = "SWITCHBOARD_CONFIG";

/// Variables that are inputs of one command rather than settings (a secret a command
/// must not take as an argument), so not warned about as unknown settings.
pub const COMMAND_INPUT_ENV: &[&str] = &["SWITCHBOARD_NEW_USER_PASSWORD"];

/// What a setting's raw value looks like in the TOML file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string.
    Text,
    /// An integer (a string holding one is accepted too).
    Number,
    /// `true` or `false` (a string holding one is accepted too).
    Flag,
}

/// One setting: its TOML key (the environment variable is derived from it).
#[derive(Debug)]
pub(crate) struct Spec {
    pub key: &'static str,
    pub kind: Kind,
    /// Never repeated in messages; may also come from a `_FILE`.
    pub secret: bool,
}

const fn text(key: &'static str) -> Spec {
    Spec {
        key,
        kind: Kind::Text,
        secret: false,
    }
}
const fn number(key: &'static str) -> Spec {
    Spec {
        key,
        kind: Kind::Number,
        secret: false,
    }
}
const fn flag(key: &'static str) -> Spec {
    Spec {
        key,
        kind: Kind::Flag,
        secret: false,
    }
}
const fn secret(key: &'static str) -> Spec {
    Spec {
        key,
        kind: Kind::Text,
        secret: true,
    }
}

/// Every setting. The public key is not a secret, but it is a long block that is easier
/// to mount as a file, so it accepts `_FILE` too (see [`Spec::accepts_file`]).
pub(crate) const SETTINGS: &[Spec] = &[
    text("data_dir"),
    secret("database_url"),
    number("database_max_connections"),
    text("sqlite_synchronous"),
    text("listen"),
    text("public_url"),
    secret("master_key"),
    secret("previous_master_keys"),
    text("log"),
    text("log_format"),
    number("max_body_bytes"),
    number("request_timeout_secs"),
    number("shutdown_grace_secs"),
    number("worker_concurrency"),
    number("job_lease_secs"),
    number("breaker_threshold"),
    number("breaker_cooldown_secs"),
    text("ghl_api_base"),
    text("ghl_webhook_public_key"),
    text("ghl_client_id"),
    secret("ghl_client_secret"),
    text("ghl_marketplace_url"),
    text("ghl_conversation_provider_id"),
    secret("ghl_shared_secret"),
    text("ghl_frame_ancestors"),
    number("uninstall_retention_days"),
    number("message_retention_days"),
    number("api_requests_per_minute_per_address"),
    number("api_requests_per_minute_per_credential"),
    secret("stripe_api_key"),
    text("stripe_api_base"),
    secret("stripe_webhook_secret"),
    text("openai_api_base"),
    secret("openai_api_key"),
    text("openai_model"),
    text("openai_embedding_model"),
    number("ai_replies_per_day"),
    secret("smtp_url"),
    text("mail_from"),
    text("object_store_url"),
    number("media_max_bytes"),
    number("media_link_ttl_secs"),
    flag("media_allow_internal_hosts"),
];

impl Spec {
    pub fn env(&self) -> String {
        format!("{ENV_PREFIX}{}", self.key.to_ascii_uppercase())
    }

    pub fn accepts_file(&self) -> bool {
        self.secret || self.key == "ghl_webhook_public_key"
    }

    pub fn get(key: &str) -> &'static Spec {
        SETTINGS
            .iter()
            .find(|s| s.key == key)
            .expect("every setting read by Config::load is listed in SETTINGS")
    }
}

/// A raw value as given, before any file it names is read.
#[derive(Debug)]
enum Raw {
    Inline(String),
    /// The path given by a `_FILE` variable or `_file` key; `by` is that variable or key.
    FromFile {
        path: PathBuf,
        by: String,
    },
}

#[derive(Debug)]
struct Entry {
    raw: Raw,
    origin: Origin,
}

/// A resolved raw value and where it came from.
#[derive(Debug)]
pub(crate) struct Value {
    pub text: String,
    pub origin: Origin,
}

/// The layered raw values, keyed by TOML key, plus warnings gathered on the way.
#[derive(Debug, Default)]
pub(crate) struct Layers {
    values: HashMap<&'static str, Entry>,
    pub warnings: Vec<String>,
}

impl Layers {
    /// Lays the TOML file's values over what is there.
    pub fn apply_file(&mut self, file: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::ReadFile {
            path: file.to_path_buf(),
            source,
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::ParseFile {
            path: file.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut layer = HashMap::new();
        for (key, value) in table {
            let (spec, from_file) =
                lookup(&key, "_file").ok_or_else(|| ConfigError::UnknownKey {
                    path: file.to_path_buf(),
                    suggestion: suggest(&key.to_ascii_lowercase(), all_keys()),
                    key: key.clone(),
                })?;
            let origin = Origin::File {
                file: file.to_path_buf(),
                key: key.clone(),
            };
            let kind = if from_file { Kind::Text } else { spec.kind };
            let text = toml_text(value, kind).map_err(|problem| ConfigError::Invalid {
                var: spec.env(),
                origin: origin.clone(),
                problem,
            })?;
            let (raw, origin) = if from_file {
                let path = PathBuf::from(text);
                let by = format!("key `{key}` in {}", file.display());
                let origin = Origin::FileSecret {
                    file: file.to_path_buf(),
                    key: key.clone(),
                    path: path.clone(),
                };
                (Raw::FromFile { path, by }, origin)
            } else {
                (Raw::Inline(text), origin)
            };
            let label = |k: &str| format!("`{k}` in {}", file.display());
            add(&mut layer, spec, raw, origin, label)?;
        }
        self.values.extend(layer);
        Ok(())
    }

    /// Lays the `SWITCHBOARD_` variables over what is there; others are ignored.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(), ConfigError> {
        let mut layer = HashMap::new();
        let mut unknown = Vec::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if name == CONFIG_FILE_ENV || COMMAND_INPUT_ENV.contains(&name.as_str()) {
                continue;
            }
            // Variables are case-sensitive: only the upper-case spelling is a setting.
            let found = (rest == rest.to_ascii_uppercase())
                .then(|| lookup(&rest.to_ascii_lowercase(), "_file"))
                .flatten();
            let Some((spec, from_file)) = found else {
                unknown.push(name);
                continue;
            };
            let (raw, origin) = if from_file {
                let path = PathBuf::from(value);
                let origin = Origin::EnvFile { path: path.clone() };
                (Raw::FromFile { path, by: name }, origin)
            } else {
                (Raw::Inline(value), Origin::Env)
            };
            add(&mut layer, spec, raw, origin, str::to_string)?;
        }
        unknown.sort();
        for name in unknown {
            self.warnings.push(unknown_warning(&name));
        }
        self.values.extend(layer);
        Ok(())
    }

    /// Takes the winning raw value of a setting, reading its file if it names one.
    pub fn take(&mut self, key: &str) -> Result<Option<Value>, ConfigError> {
        let Some(entry) = self.values.remove(key) else {
            return Ok(None);
        };
        let text = match entry.raw {
            Raw::Inline(text) => text,
            Raw::FromFile { path, by } => {
                let mut text = std::fs::read_to_string(&path).map_err(|source| {
                    ConfigError::ReadSecretFile {
                        var: by,
                        path: path.clone(),
                        source,
                    }
                })?;
                let trimmed = text.trim_end_matches(['\n', '\r']).len();
                text.truncate(trimmed);
                text
            }
        };
        Ok(Some(Value {
            text,
            origin: entry.origin,
        }))
    }
}

/// Adds one value to a layer; a secret given both directly and by file is an error.
fn add(
    layer: &mut HashMap<&'static str, Entry>,
    spec: &'static Spec,
    raw: Raw,
    origin: Origin,
    label: impl Fn(&str) -> String,
) -> Result<(), ConfigError> {
    let file_key = format!("{}_file", spec.key);
    if let Some(prev) = layer.get(spec.key) {
        let both = matches!(
            (&prev.raw, &raw),
            (Raw::Inline(_), Raw::FromFile { .. }) | (Raw::FromFile { .. }, Raw::Inline(_))
        );
        if both {
            let (first, second) = match origin {
                Origin::Env | Origin::EnvFile { .. } => {
                    (spec.env(), format!("{}_FILE", spec.env()))
                }
                _ => (spec.key.to_string(), file_key),
            };
            return Err(ConfigError::BothSet {
                first: label(&first),
                second: label(&second),
            });
        }
    }
    layer.insert(spec.key, Entry { raw, origin });
    Ok(())
}

/// Finds the setting a name (TOML key, or env suffix lowercased) refers to, and whether it
/// is the `_file` form.
fn lookup(key: &str, file_suffix: &str) -> Option<(&'static Spec, bool)> {
    if let Some(spec) = SETTINGS.iter().find(|s| s.key == key) {
        return Some((spec, false));
    }
    let base = key.strip_suffix(file_suffix)?;
    SETTINGS
        .iter()
        .find(|s| s.key == base && s.accepts_file())
        .map(|s| (s, true))
}

fn all_keys() -> impl Iterator<Item = String> {
    SETTINGS.iter().flat_map(|s| {
        let file = s.accepts_file().then(|| format!("{}_file", s.key));
        std::iter::once(s.key.to_string()).chain(file)
    })
}

fn unknown_warning(name: &str) -> String {
    let rest = name[ENV_PREFIX.len()..].to_ascii_lowercase();
    if let Some(base) = rest.strip_suffix("_file") {
        if SETTINGS.iter().any(|s| s.key == base) {
            return format!(
                "unknown setting {name} ignored ({ENV_PREFIX}{} cannot be read from a file)",
                base.to_ascii_uppercase()
            );
        }
    }
    match suggest(&rest, all_keys()) {
        Some(key) => format!(
            "unknown setting {name} ignored (did you mean {ENV_PREFIX}{}?)",
            key.to_ascii_uppercase()
        ),
        None => format!("unknown setting {name} ignored"),
    }
}

/// The closest known name, if it is close enough to be a likely typo.
fn suggest(name: &str, candidates: impl Iterator<Item = String>) -> Option<String> {
    candidates
        .map(|c| (distance(name, &c), c))
        .filter(|(d, c)| *d <= 3 && *d * 3 <= c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (names are short ASCII).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A TOML value as the raw string the parsers read.
fn toml_text(value: toml::Value, kind: Kind) -> Result<String, String> {
    match (value, kind) {
        (toml::Value::String(s), _) => Ok(s),
        (toml::Value::Integer(i), Kind::Number) => Ok(i.to_string()),
        (toml::Value::Boolean(b), Kind::Flag) => Ok(b.to_string()),
        (other, Kind::Flag) => Err(format!(
            "expected true or false, found {}",
            other.type_str()
        )),
        (other, Kind::Number) => Err(format!(
            "expected a whole number, found {}",
            other.type_str()
        )),
        (other, Kind::Text) => Err(format!("expected a string, found {}", other.type_str())),
    }
}
