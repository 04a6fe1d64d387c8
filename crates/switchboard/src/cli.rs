//! The command line: `switchboard <command>` (see the README's command table).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Switchboard: iMessage, SMS and WhatsApp inside GoHighLevel, reliably.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// A TOML configuration file (settings as in docs/CONFIGURATION.md); environment
    /// variables override it.
    #[arg(long, global = true, env = "SWITCHBOARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and the workers (migrates the database first).
    Serve(ServeArgs),
    /// Run the workers only (the database must already be migrated).
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect and replay dead jobs.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Register GHL locations.
    #[command(subcommand)]
    Location(LocationCommand),
    /// Connect provider lines to locations.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Create dashboard users.
    #[command(subcommand)]
    User(UserCommand),
    /// A message's timeline: why did (or didn't) this contact get it?
    Trace(TraceArgs),
    /// Manage the master key ring.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Measure this machine and print one JSON object of results.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Measure the AI's knowledge retrieval on the sample evaluation set.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Try it on this machine: the gateway on SQLite in a data folder, the sandbox
    /// simulators in-process, a seeded agency, location and SendBlue channel, and a
    /// scripted exchange. Reads no --config file and keeps to its data folder.
    Demo(DemoArgs),
    /// Run the sandbox simulators (GHL, SendBlue) alone, on their own port.
    Sandbox(SandboxArgs),
}

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Recall@k of lexical, vector and hybrid retrieval (docs/EVALUATION.md).
    Retrieval(EvalRetrievalArgs),
}

#[derive(Debug, Args)]
pub struct EvalRetrievalArgs {
    /// Passages retrieved per question.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u16).range(1..=50))]
    pub k: u16,
    /// Use the sandbox's embeddings even when a model is configured.
    #[arg(long)]
    pub sandbox: bool,
    /// Also write the figures into this file's marked table (docs/EVALUATION.md).
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where the demo keeps its SQLite database and master key. Not the configured
    /// SWITCHBOARD_DATA_DIR: the demo never touches a real installation's data.
    #[arg(long, default_value = "./demo-data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Address the gateway listens on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Address the in-process sandbox listens on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub sandbox_listen: SocketAddr,
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// The gateway's base URL, where the simulators post their webhooks
    /// (also settable later with `PUT /_control/gateway`).
    #[arg(long, value_name = "URL")]
    pub gateway: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the API only; leave jobs to `switchboard worker` processes.
    #[arg(long)]
    pub no_workers: bool,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead jobs, newest first.
    List {
        /// Only jobs of this kind.
        #[arg(long)]
        kind: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put dead jobs back in the queue with a fresh set of attempts.
    Retry {
        /// Job ids (`job_42`).
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        ids: Vec<String>,
        /// Every dead job (of `--kind`, if given).
        #[arg(long)]
        all: bool,
        #[arg(long, requires = "all")]
        kind: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LocationCommand {
    /// Register a GHL location with its OAuth tokens (re-running updates it).
    Add(LocationAddArgs),
}

#[derive(Debug, Args)]
pub struct LocationAddArgs {
    /// GHL's id for the location (sub-account).
    #[arg(long)]
    pub ghl_location_id: String,
    /// A location access token (from the Marketplace install or `oauth/locationToken`).
    #[arg(long)]
    pub access_token: String,
    #[arg(long)]
    pub refresh_token: String,
    /// Seconds until the access token expires, as GHL's token response says.
    #[arg(long, default_value_t = 86_399)]
    pub expires_in: i64,
    /// The conversation provider id GHL gave our Marketplace app.
    #[arg(long)]
    pub conversation_provider_id: Option<String>,
    /// A name for the location.
    #[arg(long, default_value = "")]
    pub name: String,
    /// The agency it belongs to, by GHL company id; without one, by `--agency-name`.
    #[arg(long)]
    pub company_id: Option<String>,
    #[arg(long, default_value = "Default agency")]
    pub agency_name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password comes from --password-file or
    /// SWITCHBOARD_NEW_USER_PASSWORD, never from an argument.
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    #[arg(long)]
    pub email: String,
    /// operator, agency_admin, location_admin or agent.
    #[arg(long)]
    pub role: String,
    /// The agency (ours, `agy_…`) of an agency_admin.
    #[arg(long, value_name = "ID")]
    pub agency: Option<String>,
    /// The location (ours or GHL's id) of a location_admin or agent.
    #[arg(long, value_name = "ID")]
    pub location: Option<String>,
    /// A file holding the password (a trailing newline is dropped).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    #[arg(long, default_value = "")]
    pub name: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Connect a line to a location; prints the webhook URL to configure at the provider.
    Add(ChannelAddArgs),
}

#[derive(Debug, Args)]
pub struct ChannelAddArgs {
    /// The location: our id (`loc_…`) or GHL's location id.
    #[arg(long)]
    pub location: String,
    /// sendblue, twilio, whatsapp or unipile.
    #[arg(long)]
    pub provider: String,
    /// The line's number in international form (+15551234567).
    #[arg(long)]
    pub line: String,
    /// A provider credential, KEY=VALUE; repeat for each key the provider needs.
    #[arg(long = "credential", value_name = "KEY=VALUE")]
    pub credentials: Vec<String>,
    /// The provider's API base URL, instead of its default (sandbox, regional endpoint).
    #[arg(long)]
    pub api_base: Option<String>,
    /// The line's send rate, messages per second (fractions allowed; 0 turns local pacing
    /// off). Default: the provider's (SendBlue about 1/s).
    #[arg(long)]
    pub messages_per_second: Option<f64>,
    /// WhatsApp: the approved template sent instead of free text outside the 24-hour
    /// window, `NAME` or `NAME:LANGUAGE` (default language en_US). Without it, a message
    /// outside the window fails with the reason and nothing is sent.
    #[arg(long, value_name = "NAME[:LANGUAGE]")]
    pub fallback_template: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// The message id (`msg_…`).
    pub message_id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print a new master key, one version above the current SWITCHBOARD_MASTER_KEY, as
    /// `N:BASE64` (the first step of a rotation).
    New,
    /// Re-seal every stored secret under the current SWITCHBOARD_MASTER_KEY, in batches,
    /// while the service runs; then retire the older versions. Set the new key (from
    /// `keys new`) as SWITCHBOARD_MASTER_KEY and the old one in
    /// SWITCHBOARD_PREVIOUS_MASTER_KEYS on every process, restart them, run this, then drop
    /// the old key. Interrupted, run it again: it resumes.
    Rotate(RotateArgs),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// Rows re-sealed per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch: u32,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Queue throughput: enqueue → claim → complete.
    Queue(QueueBenchArgs),
    /// Ingest: signed GHL provider webhooks → verified, stored, job enqueued, 200.
    Ingest(IngestBenchArgs),
    /// End to end: a GHL user's message → the simulated SendBlue receives the send.
    E2e(E2eBenchArgs),
    /// Pacing: contacts writing in to many locations, faster than GHL's limit allows →
    /// no GHL 429, and how much of GHL's allowed rate each location used.
    Pacing(PacingBenchArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchBackend {
    Sqlite,
    Postgres,
}

/// The scratch database a benchmark runs on.
#[derive(Debug, Args)]
pub struct BenchDatabaseArgs {
    #[arg(long, value_enum, default_value = "sqlite")]
    pub backend: BenchBackend,
    /// PostgreSQL URL (a throwaway schema is created in it and dropped after). Default:
    /// SWITCHBOARD_DATABASE_URL when it is a postgres:// URL.
    #[arg(long)]
    pub database_url: Option<String>,
    /// SQLite durability: `full` (fsync per commit, the default) or `normal`.
    #[arg(long, default_value = "full")]
    pub sqlite_sync: String,
}

#[derive(Debug, Args)]
pub struct QueueBenchArgs {
    #[command(flatten)]
    pub database: BenchDatabaseArgs,
    /// Jobs to push through.
    #[arg(long, default_value_t = 100_000)]
    pub jobs: u64,
    /// Jobs running at once in the worker pool (also the most one claim takes).
    #[arg(long, default_value_t = 128)]
    pub workers: usize,
    /// Concurrent producers enqueueing.
    #[arg(long, default_value_t = 2)]
    pub producers: usize,
    /// Jobs per enqueue transaction.
    #[arg(long, default_value_t = 50)]
    pub batch: usize,
}

#[derive(Debug, Args)]
pub struct IngestBenchArgs {
    #[command(flatten)]
    pub database: BenchDatabaseArgs,
    /// Signed webhooks to post (each a distinct GHL message).
    #[arg(long, default_value_t = 20_000)]
    pub requests: u64,
    /// Concurrent HTTP clients (one keep-alive connection each); also the concurrent
    /// committers of the raw commit measurement.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Offered load, requests per second (0: as fast as the clients go).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
}

#[derive(Debug, Args)]
pub struct E2eBenchArgs {
    #[command(flatten)]
    pub database: BenchDatabaseArgs,
    /// GHL messages to send.
    #[arg(long, default_value_t = 5_000)]
    pub messages: u64,
    /// Offered load, messages per second (open loop).
    #[arg(long, default_value_t = 1_000.0)]
    pub rate: f64,
    /// Distinct contacts the messages are spread over, in turn (at most 10,000). A
    /// conversation's jobs run in order, so a contact's next message also waits for the
    /// previous one's status updates to reach GHL, within the location's GHL budget.
    #[arg(long, default_value_t = 5_000)]
    pub contacts: u64,
    /// Pause before each simulated SendBlue status callback (SENT, then DELIVERED).
    #[arg(long, default_value_t = 10)]
    pub callback_delay_ms: u64,
    /// Drop SendBlue's status callbacks (a `webhooks` outage fault in the sandbox): the
    /// send path alone, without the status traffic that follows each send.
    #[arg(long)]
    pub no_callbacks: bool,
}

#[derive(Debug, Args)]
pub struct PacingBenchArgs {
    #[command(flatten)]
    pub database: BenchDatabaseArgs,
    /// Inbound messages (contacts writing in), spread over the locations in turn.
    #[arg(long, default_value_t = 10_000)]
    pub messages: u64,
    /// GHL locations, each in its own agency with its own SendBlue line.
    #[arg(long, default_value_t = 20)]
    pub locations: usize,
    /// Contacts writing in to each location (at most 10,000); a location's messages come
    /// from them in turn. Each contact's first message also costs GHL a contact lookup and
    /// an upsert.
    #[arg(long, default_value_t = 25)]
    pub contacts: u64,
    /// Offered load, messages per second over all locations (open loop). GHL allows each
    /// location 10 requests per second: the default is twice what 20 locations may post.
    #[arg(long, default_value_t = 400.0)]
    pub rate: f64,
}
