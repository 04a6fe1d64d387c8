//! Unit tests (one binary: integration-test binaries are slow to link).
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

mod layering;
mod values;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY2: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
const PG: &str = "postgres://switchboard:hunter2pw@db.internal:5432/switchboard";

fn load(env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    Config::load(None, env.iter().copied())
}

fn config(env: &[(&str, &str)]) -> Config {
    load(env).unwrap().config
}

fn err(env: &[(&str, &str)]) -> String {
    load(env).unwrap_err().to_string()
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn secret_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn with_file(file: &Path, env: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
    Config::load(Some(file), env.iter().copied())
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}
