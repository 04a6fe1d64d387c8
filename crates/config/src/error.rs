//! Errors from [`Config::load`](crate::Config::load).
//!
//! Every message names the setting the operator has to fix, by its environment variable, and
//! says where the bad value came from when that was not the variable itself (a key of the
//! config file, or a file named by `…_FILE`). A secret's value is never repeated in a message.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The environment variable named after the setting.
    Env,
    /// A file named by the `SWITCHBOARD_<NAME>_FILE` environment variable.
    EnvFile { path: PathBuf },
    /// A key of the TOML config file.
    File { file: PathBuf, key: String },
    /// A file named by a `<name>_file` key of the TOML config file.
    FileSecret {
        file: PathBuf,
        key: String,
        path: PathBuf,
    },
}

impl Origin {
    /// The setting's name as an operator reads it in a message: the environment variable,
    /// followed by where the value came from when that was somewhere else.
    pub(crate) fn label(&self, var: &str) -> String {
        match self {
            Origin::Env => var.to_string(),
            Origin::EnvFile { path } => {
                format!("{var} (read from {} named by {var}_FILE)", path.display())
            }
            Origin::File { file, key } => format!("{var} (key `{key}` in {})", file.display()),
            Origin::FileSecret { file, key, path } => format!(
                "{var} (read from {} named by key `{key}` in {})",
                path.display(),
                file.display()
            ),
        }
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A setting's value does not parse, is out of range or is empty.
    #[error("{}: {problem}", .origin.label(.var))]
    Invalid {
        /// The environment variable naming the setting, e.g. `SWITCHBOARD_LISTEN`.
        var: String,
        origin: Origin,
        problem: String,
    },
    /// The config file given with `--config` cannot be read.
    #[error("cannot read config file {}: {source}", .path.display())]
    ReadFile { path: PathBuf, source: io::Error },
    /// The config file is not valid TOML, or holds something other than flat keys.
    #[error("config file {}: {message}", .path.display())]
    ParseFile { path: PathBuf, message: String },
    /// The config file has a key that is not a setting (probably a typo).
    #[error("config file {}: unknown key `{key}`{}", .path.display(), Hint(.suggestion))]
    UnknownKey {
        path: PathBuf,
        key: String,
        suggestion: Option<String>,
    },
    /// A secret is given both directly and through a file, in the same layer.
    #[error("{first} and {second} are both set; set only one")]
    BothSet { first: String, second: String },
    /// The file named by a `…_FILE` variable (or `…_file` key) cannot be read.
    #[error("{var}: cannot read {}: {source}", .path.display())]
    ReadSecretFile {
        /// The variable or key that named the file.
        var: String,
        path: PathBuf,
        source: io::Error,
    },
    /// A `SWITCHBOARD_` environment variable whose value is not UTF-8.
    #[error("{var}: the value is not valid UTF-8")]
    NotUnicode { var: String },
    /// PostgreSQL without `SWITCHBOARD_MASTER_KEY`.
    #[error(
        "SWITCHBOARD_MASTER_KEY is required with a PostgreSQL database \
         (32 random bytes, standard base64; e.g. `openssl rand -base64 32`)"
    )]
    MasterKeyRequired,
}

/// Formats an optional "did you mean" suggestion.
struct Hint<'a>(&'a Option<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " (did you mean `{s}`?)"),
            None => Ok(()),
        }
    }
}
