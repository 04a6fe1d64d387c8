//! The `switchboard` binary as an operator runs it: real processes, real exit codes.
#![allow(clippy::unwrap_used)]

mod commands;

use std::path::Path;
use std::process::{Command, Output};

/// `switchboard ARGS` with a clean environment (no inherited `SWITCHBOARD_*`), a data
/// folder of its own, and `env` on top.
pub fn switchboard(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    for (key, _) in std::env::vars() {
        if key.starts_with("SWITCHBOARD_") {
            command.env_remove(key);
        }
    }
    command.env("SWITCHBOARD_DATA_DIR", data_dir).args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

pub fn run(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    switchboard(data_dir, args, env).output().unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
