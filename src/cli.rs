//! The command line: clap definitions only. What each command does is in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tagrec",
    version,
    about = "Keeps Amazon Bedrock projects and their cost-allocation tags as a Git repository declares them",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// When to colour output (NO_COLOR is honoured with `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorMode::Auto)]
    pub color: ColorMode,
    /// Log requests and decisions to stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print only results and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

/// The manifest a command reads.
#[derive(Debug, Clone, Args)]
pub struct ManifestArg {
    /// The manifest (YAML) that declares the projects, their tags and the target account
    #[arg(
        short = 'f',
        long = "manifest",
        value_name = "FILE",
        default_value = "projects.yaml"
    )]
    pub manifest: PathBuf,
}

/// The manifests of an estate: `-f` repeatable and with globs, which of them a change touched,
/// and how many run at once.
#[derive(Debug, Clone, Args)]
pub struct ManifestsArgs {
    /// A manifest (YAML) that declares the projects, their tags and the target account; repeat
    /// it, or give a quoted glob ('accounts/*/*.yaml'), for several
    #[arg(
        short = 'f',
        long = "manifest",
        value_name = "FILE",
        default_value = "projects.yaml"
    )]
    pub manifests: Vec<String>,
    /// Keep only the manifests whose files (the manifest, its policy and the files its `$ref`s
    /// name, its sandbox seed and costs) changed since the merge base of REF and HEAD
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// How many manifests run at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

/// Where a command that talks to an account sends its requests, and as whom.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The API's base URL, replacing the manifest's target (e.g. http://127.0.0.1:4010/v1)
    #[arg(long, env = "TAGREC_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// The target's region (for the endpoint's URL and SigV4); wins over `target.region`,
    /// AWS_REGION and AWS_DEFAULT_REGION
    #[arg(long, env = "TAGREC_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// The AWS profile whose credentials sign requests (SigV4; wins over `target.profile`,
    /// AWS_PROFILE and environment keys)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Which credentials to use: `auto` takes the first found (TAGREC_API_KEY,
    /// AWS_BEARER_TOKEN_BEDROCK, BEDROCK_API_KEY; then the AWS SDK's chain: environment keys, a
    /// profile, web identity, ECS; then OPENAI_API_KEY; then EC2 instance metadata)
    #[arg(long, value_enum, default_value_t = AuthMode::Auto)]
    pub auth: AuthMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthMode {
    /// The first credentials found, in the order above
    Auto,
    /// A bearer key only (Amazon Bedrock API key)
    Bearer,
    /// AWS SigV4 only
    Sigv4,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    /// On a terminal, unless NO_COLOR is set
    Auto,
    Always,
    Never,
}

impl From<AuthMode> for crate::api::auth::AuthMode {
    fn from(mode: AuthMode) -> Self {
        match mode {
            AuthMode::Auto => Self::Auto,
            AuthMode::Bearer => Self::Bearer,
            AuthMode::Sigv4 => Self::Sigv4,
        }
    }
}

impl From<ColorMode> for crate::shell::ColorMode {
    fn from(mode: ColorMode) -> Self {
        match mode {
            ColorMode::Auto => Self::Auto,
            ColorMode::Always => Self::Always,
            ColorMode::Never => Self::Never,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the manifest and the policy offline (no credentials, no network)
    Validate(ValidateArgs),
    /// Read the live projects and show what apply would change
    Plan(PlanArgs),
    /// Make the changes of a plan (computed now, or loaded from a plan file)
    Apply(ApplyArgs),
    /// Check every live active project against the policy
    Audit(AuditArgs),
    /// Write a manifest of the live active projects
    Import(ImportArgs),
    /// Write a starter manifest, policy and CI workflow into this folder (never overwriting)
    Init,
    /// The Bedrock Projects API emulator
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// The declared projects' live ids, for applications (OPENAI_PROJECT_ID, a dotenv, JSON)
    Output(OutputArgs),
    /// Cost allocation tags: the manifests' keys as Billing sees them, activated as code
    #[command(subcommand)]
    Billing(BillingCommand),
    /// Spend on Amazon Bedrock by tag value, from Cost Explorer
    Costs(CostsArgs),
    /// List the manifests that -f and --changed-since select (for a CI matrix)
    Manifests(ManifestsListArgs),
    /// Print the JSON Schema of the manifest format (for editors)
    Schema,
    /// Print shell completions
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Where Cost Explorer is called, and as whom: the payer (management) account.
#[derive(Debug, Clone, Args)]
pub struct PayerArgs {
    /// Cost Explorer's URL, instead of the manifest's sandbox or AWS's (e.g. an emulator's
    /// http://127.0.0.1:4010); AWS_ENDPOINT_URL_COST_EXPLORER and AWS_ENDPOINT_URL come after it
    #[arg(long, env = "TAGREC_BILLING_ENDPOINT", value_name = "URL")]
    pub billing_endpoint: Option<String>,
    /// The payer account's AWS profile (wins over `billing.profile` in the manifests; never the
    /// target's own: a member account cannot see cost allocation tags)
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The region STS is asked in to assume `billing.role_arn` (else the profile's, else
    /// us-east-1); Cost Explorer itself always answers in us-east-1
    #[arg(long, env = "TAGREC_REGION", value_name = "REGION")]
    pub region: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum BillingCommand {
    /// Where Billing stands on each key the manifests use: active, inactive or not seen yet
    Status(BillingStatusArgs),
    /// Activate the keys that are not active yet (never deactivates one)
    Activate(BillingActivateArgs),
    /// Ask Billing to apply today's tag status to the months since YYYY-MM (once a day)
    Backfill(BillingBackfillArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BillingFormat {
    /// A table, then what to do
    Text,
    /// `{"format_version", "keys": [{"key", "status", "last_used"}]}`
    Json,
}

#[derive(Debug, Args)]
pub struct BillingStatusArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub payer: PayerArgs,
    /// How to print the status
    #[arg(long, value_enum, default_value_t = BillingFormat::Text)]
    pub format: BillingFormat,
    /// Exit 2 when some key is not active, 0 when all are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct BillingActivateArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub payer: PayerArgs,
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Args)]
pub struct BillingBackfillArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub payer: PayerArgs,
    /// The first month to backfill (YYYY-MM, at most 12 months back)
    #[arg(long, value_name = "YYYY-MM")]
    pub from: String,
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostsFormat {
    /// A table with a bar per value
    Text,
    /// The report as one object, amounts unrounded
    Json,
    /// `value,amount,share,projects,declared`, amounts unrounded
    Csv,
    /// A table and a mermaid chart, for a job summary or a pull request
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CostsGranularity {
    Daily,
    Monthly,
}

#[derive(Debug, Args)]
pub struct CostsArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub payer: PayerArgs,
    /// The tag key to group spend by (e.g. CostCenter)
    #[arg(long, value_name = "KEY")]
    pub by: String,
    /// First day (YYYY-MM-DD, UTC); default the first of this month (of the last on a first)
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Day after the last (YYYY-MM-DD, exclusive as in Cost Explorer); default today
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Ask Cost Explorer by day or by month (default: monthly); the JSON form then gives each
    /// value's series
    #[arg(long, value_enum)]
    pub granularity: Option<CostsGranularity>,
    /// A service name to include instead of "Amazon Bedrock" (repeatable; e.g. a Marketplace
    /// model's "… (Amazon Bedrock Edition)")
    #[arg(long = "service", value_name = "NAME")]
    pub services: Vec<String>,
    /// How to print the report
    #[arg(long, value_enum, default_value_t = CostsFormat::Text)]
    pub format: CostsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `{"region", "base_url", "projects": [{"name", "id", "arn", "status"}]}`
    Json,
    /// OPENAI_PROJECT_ID and OPENAI_BASE_URL of the --project, for the OpenAI SDKs
    Env,
    /// TAGREC_PROJECT_ID_<NAME>=proj_… for every declared project
    Dotenv,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How to print the ids
    #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
    pub format: OutputFormat,
    /// The project (by name or id) whose id `--format env` prints
    #[arg(long, value_name = "NAME|ID")]
    pub project: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifestsFormat {
    /// One file per line
    Text,
    /// `{"manifests": [FILE, ...]}`
    Json,
    /// `{"include": [{"manifest": FILE}, ...]}`, for a dynamic GitHub Actions matrix
    GithubMatrix,
}

#[derive(Debug, Args)]
pub struct ManifestsListArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    /// How to print the list
    #[arg(long, value_enum, default_value_t = ManifestsFormat::Text)]
    pub format: ManifestsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// Compiler-style messages with the source line
    Text,
    /// An array of problems with file, line and column
    Json,
    /// GitHub Actions annotations on the pull request
    Github,
    /// SARIF 2.1.0, for GitHub code scanning
    Sarif,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    /// How to print the problems
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-style, for people
    Text,
    /// The plan object (what --out saves)
    Json,
    /// A pull-request comment
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Write the plan (JSON) to this file, for `tagrec apply FILE` (`-` for stdout: the plan for
    /// people then goes to stderr); with several manifests, a new or empty folder that gets one
    /// plan per manifest, for `tagrec apply DIR`
    #[arg(long, value_name = "FILE|DIR")]
    pub out: Option<PathBuf>,
    /// How to print the plan
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Exit 2 when there are changes, 0 when there are none, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Limit the plan to these projects (by name; repeatable)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    /// A line per change, then a summary
    Text,
    /// The results as one object
    Json,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The manifest (YAML) that declares the projects, their tags and the target account
    /// [default: projects.yaml]; repeat it, or give a quoted glob ('accounts/*/*.yaml'), for
    /// several; with PLANFILE, the manifest the plan records is used
    #[arg(short = 'f', long = "manifest", value_name = "FILE")]
    pub manifests: Vec<String>,
    /// Keep only the manifests whose files (the manifest, its policy and the files its `$ref`s
    /// name, its sandbox seed and costs) changed since the merge base of REF and HEAD
    #[arg(long, value_name = "REF")]
    pub changed_since: Option<String>,
    /// How many manifests are planned and applied at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
    #[command(flatten)]
    pub target: TargetArgs,
    /// A plan written by `tagrec plan --out`, executed exactly against the manifest and target it
    /// records after a stale check; or a folder of them (`tagrec plan --out DIR` of several
    /// manifests), each applied so
    #[arg(value_name = "PLANFILE|DIR")]
    pub planfile: Option<PathBuf>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// Allow archives (they cannot be undone); without it they are skipped
    #[arg(long)]
    pub allow_archive: bool,
    /// How many changes run at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Limit the changes to these projects (by name; repeatable)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,
    /// How to report the results
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,
    /// How long to keep trying: changes that failed in a way that may heal (throttling, server
    /// errors, lost answers) are re-planned and run again, pass after pass, until then
    /// (e.g. 90s, 10m, 1h)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_timeout)]
    pub timeout: std::time::Duration,
    /// The longest wait for a write to show in the list (lists may lag writes), in four steps;
    /// for tests of an emulator whose lists never catch up
    #[arg(long, hide = true, value_name = "MS", default_value_t = 2000)]
    pub settle_ms: u64,
}

/// `90s`, `10m`, `1h`, `1h 30m`: a positive duration in the units people write.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text.trim()) {
        Ok(duration) if duration.is_zero() => Err("the timeout must be more than 0s".into()),
        Ok(duration) => Ok(duration),
        Err(e) => Err(format!(
            "{e}: write a duration with its unit, like 90s, 10m or 1h"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    /// A table, then the compliance rate
    Text,
    /// The projects and their violations as one object
    Json,
    /// One row per violation (RFC 4180)
    Csv,
    /// A table for a job summary or a pull request
    Markdown,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub manifests: ManifestsArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// How to print the audit
    #[arg(long, value_enum, default_value_t = AuditFormat::Text)]
    pub format: AuditFormat,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// An existing manifest whose target (region, endpoint or sandbox) to read; when it does not
    /// exist, the target comes from --endpoint, --region and the environment
    #[arg(
        short = 'f',
        long = "manifest",
        value_name = "FILE",
        default_value = "projects.yaml"
    )]
    pub manifest: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Where to write the manifest (`-` for stdout)
    #[arg(long, value_name = "FILE", default_value = "projects.yaml")]
    pub out: PathBuf,
    /// Overwrite an existing file
    #[arg(long)]
    pub force: bool,
    /// The policy the manifest names, as `policy:` (FILE from here; written as seen from the
    /// manifest's folder)
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Write `owner: NAME`; a matching ManagedBy tag is then left to it
    #[arg(long, value_name = "NAME")]
    pub owner: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Serve the emulator over HTTP
    Serve(Box<ServeArgs>),
    /// Delete the manifest's sandbox state, so that it starts again from its seed
    Reset(ManifestArg),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one
    #[arg(long, default_value = "127.0.0.1:4010")]
    pub listen: String,
    /// State file (JSON, written atomically); in memory only when absent
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Initial projects (a JSON array in the API's shape), used when the state file does not exist
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// The region the emulated account is in: in project ARNs, and the SigV4 region it checks
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// The emulated account's id, in project ARNs
    #[arg(long, default_value = "123456789012")]
    pub account_id: String,
    /// Require this key (Authorization: Bearer, or x-api-key)
    #[arg(long)]
    pub api_key: Option<String>,
    /// Accept this key for reads only; writes get 403 permission_error
    #[arg(long)]
    pub read_only_api_key: Option<String>,
    /// Accept SigV4 signatures (services bedrock-mantle, sts and ce) made with ACCESS_KEY_ID:SECRET
    #[arg(long, value_name = "ACCESS_KEY_ID:SECRET")]
    pub sigv4: Option<String>,
    /// Added to every answer
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability of a 500 before doing anything
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Requests per second allowed (token bucket); 429 with Retry-After past it
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Probability that a write is done and its connection then closed with no answer
    #[arg(long, default_value_t = 0.0)]
    pub drop_after_commit_rate: f64,
    /// Serve lists from a snapshot this old
    #[arg(long, default_value_t = 0)]
    pub list_lag_ms: u64,
    /// Seed of the fault generator, for reproducible runs
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// Write one JSON line per request to this file
    #[arg(long)]
    pub request_log: Option<PathBuf>,
    /// How long the credentials that the emulated STS issues last, when the call names no
    /// duration (short ones test refreshing)
    #[arg(long, value_name = "SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub sts_duration: u64,
    /// Spend rows for its Cost Explorer: a JSON array of {"date": "YYYY-MM-DD", "service",
    /// "project_id", "amount": "12.34"}; a row's spend carries its project's active tags
    #[arg(long, value_name = "FILE")]
    pub costs: Option<PathBuf>,
    /// Result periods per GetCostAndUsage page (default: all in one page), to test paging
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub ce_page_size: Option<u32>,
    /// Cost allocation tag keys active from the start (once seen on a project with spend);
    /// other keys start inactive
    #[arg(long, value_name = "K1,K2", value_delimiter = ',')]
    pub active_cost_tags: Vec<String>,
    /// Answer every Cost Explorer call as for a member (linked) account: 400
    /// AccessDeniedException
    #[arg(long)]
    pub linked_account: bool,
}
