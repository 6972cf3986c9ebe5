//! `bench`: measures the release binaries as Lambda runs them, through the Lambda Runtime API,
//! against dynalite (behind a counting proxy) and the Plivo sandbox, and prints a table:
//! cold start (init, and first response), warm latency, handler overhead, peak memory,
//! DynamoDB requests per operation and artifact sizes. A bare lambda_http function
//! (`devtools/baseline`) is measured the same way, as the floor.
//!
//! The binaries are built as they are deployed (static, linked against musl, with cargo lambda:
//! see the Makefile's build-<Function> targets), for this machine's architecture.
//!
//! Usage: `bench [--short] [--no-build] [--zip] [--soak=N] [--target=TRIPLE]`
//! - `--short`: fewer starts and invocations (CI keeps the benchmark from rotting with it).
//! - `--no-build`: use the release binaries already built.
//! - `--zip`: also build the deployed arm64 zips (`cargo lambda build --release --target
//!   aarch64-unknown-linux-musl --output-format zip`) and report their sizes.
//! - `--soak=N`: invocations after the warm run, for memory growth (default 10,000).
//! - `--target=TRIPLE`: measure a build for another target of this machine's architecture,
//!   e.g. `x86_64-unknown-linux-gnu` to compare with glibc (default `<arch>-unknown-linux-musl`).

mod artifacts;
mod measures;
mod probes;
mod report;
mod scenarios;

use anyhow::bail;
use otp_devtools::lambda::{Binaries, lambda_bootstrap, target_dir};
use otp_devtools::repo_root;

use artifacts::{DEPLOYED_TARGET, lambda_build, zip_sizes};
use measures::{measure, measure_baseline, requests_per_operation, secret_cost, token_cost};
use report::Results;
use scenarios::{Numbers, send_event, setup, verify_event};

/// The bare lambda_http function in `devtools/baseline`.
pub(crate) const BASELINE: &str = "lambda-baseline";

/// The baseline plus one EMF record per invocation, by three writers (`devtools/baseline`):
/// serde_json (what the functions use), awslabs' metrique, `metrics` with
/// metrics_cloudwatch_embedded.
pub(crate) const EMF_WRITERS: [&str; 3] = ["emf-serde", "emf-metrique", "emf-metrics"];

pub(crate) const USAGE: &str =
    "usage: bench [--short] [--no-build] [--zip] [--soak=N] [--target=TRIPLE]";

pub(crate) struct Options {
    pub(crate) starts: usize,
    pub(crate) warm: usize,
    pub(crate) soak: usize,
    pub(crate) build: bool,
    pub(crate) zip: bool,
    pub(crate) target: String,
}

pub(crate) fn options() -> anyhow::Result<Options> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    for a in &args {
        let valued = a.starts_with("--soak=") || a.starts_with("--target=");
        if !["--short", "--no-build", "--zip"].contains(&a.as_str()) && !valued {
            bail!("unknown argument {a}; {USAGE}");
        }
    }
    let short = args.iter().any(|a| a == "--short");
    Ok(Options {
        starts: if short { 3 } else { 15 },
        warm: if short { 200 } else { 1000 },
        soak: args
            .iter()
            .find_map(|a| a.strip_prefix("--soak=").and_then(|n| n.parse().ok()))
            .unwrap_or(if short { 0 } else { 10_000 }),
        build: !args.iter().any(|a| a == "--no-build"),
        zip: args.iter().any(|a| a == "--zip"),
        target: args
            .iter()
            .find_map(|a| a.strip_prefix("--target="))
            .map_or_else(
                || format!("{}-unknown-linux-musl", std::env::consts::ARCH),
                str::to_owned,
            ),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = options()?;
    let root = repo_root();
    let dir = if opts.build {
        eprintln!("building release binaries for {} ...", opts.target);
        lambda_build(&root, &opts.target, false).await?
    } else {
        target_dir(&root).await?.join("bench").join(&opts.target)
    };
    let bin = Binaries::in_lambda_dir(&dir);
    eprintln!("measuring the bare lambda_http baseline and the EMF writers on it ...");
    let baseline = measure_baseline(BASELINE, &lambda_bootstrap(&dir, BASELINE), &opts).await?;
    let mut writers = Vec::new();
    for name in EMF_WRITERS {
        writers.push((
            name,
            measure_baseline(name, &lambda_bootstrap(&dir, name), &opts).await?,
        ));
    }
    let setup = setup().await?;
    let mut numbers = Numbers(0);

    eprintln!("measuring send-otp ...");
    let send = measure(
        "send-otp",
        &bin.send_otp,
        &setup,
        &opts,
        &mut numbers,
        &mut |n| send_event(&n.next()),
    )
    .await?;
    eprintln!("measuring verify-otp ...");
    let verify = measure(
        "verify-otp",
        &bin.verify_otp,
        &setup,
        &opts,
        &mut numbers,
        &mut |n| verify_event(&n.next(), "123456"),
    )
    .await?;
    let requests = requests_per_operation(&bin, &setup, &mut numbers).await?;
    eprintln!("measuring verify-otp with a token signing key ...");
    let tokens = token_cost(&bin, &setup, &opts, &mut numbers).await?;
    eprintln!("measuring verify-otp with its secret read at init ...");
    let secrets = secret_cost(&bin, &setup, &opts, &mut numbers).await?;
    let zips = if opts.zip {
        eprintln!("building the {DEPLOYED_TARGET} zips ...");
        zip_sizes(&root).await?
    } else {
        Vec::new()
    };

    let callback_mb = std::fs::metadata(&bin.plivo_callback)?.len() as f64 / 1e6;
    report::print(&Results {
        opts,
        send,
        verify,
        baseline,
        writers,
        tokens,
        secrets,
        requests,
        zips,
        callback_mb,
    });
    Ok(())
}
