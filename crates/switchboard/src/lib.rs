//! The `switchboard` binary's library: command-line parsing and the commands.
#![forbid(unsafe_code)]

mod bench;
mod channel;
pub mod cli;
mod demo;
mod dlq;
mod eval;
mod location;
mod sandbox_cmd;
mod startup;
mod trace;
mod user;

use anyhow::Result;

use cli::{Cli, Command};

/// Runs one command to completion.
pub async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => startup::serve(cli.config.as_deref(), !args.no_workers).await,
        Command::Worker => startup::worker(cli.config.as_deref()).await,
        Command::Migrate => startup::migrate(cli.config.as_deref()).await,
        Command::Dlq(command) => dlq::run(cli.config.as_deref(), command).await,
        Command::Location(cli::LocationCommand::Add(args)) => {
            location::add(cli.config.as_deref(), args).await
        }
        Command::Channel(cli::ChannelCommand::Add(args)) => {
            channel::add(cli.config.as_deref(), args).await
        }
        Command::User(cli::UserCommand::Add(args)) => user::add(cli.config.as_deref(), args).await,
        Command::Trace(args) => trace::run(cli.config.as_deref(), args).await,
        Command::Keys(cli::KeysCommand::New) => startup::new_key(cli.config.as_deref()),
        Command::Keys(cli::KeysCommand::Rotate(args)) => {
            startup::rotate_keys(cli.config.as_deref(), args.batch).await
        }
        Command::Bench(command) => bench::run(command).await,
        Command::Eval(cli::EvalCommand::Retrieval(args)) => {
            eval::retrieval(cli.config.as_deref(), args).await
        }
        Command::Demo(args) => demo::run(cli.config.as_deref(), args).await,
        Command::Sandbox(args) => sandbox_cmd::run(cli.config.as_deref(), args).await,
    }
}
