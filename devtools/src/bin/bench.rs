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

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use otp_devtools::apigw::{call, http_api_event};
use otp_devtools::dynalite::{Dynalite, local_client};
use otp_devtools::dynamodb_proxy::DynamoDbProxy;
use otp_devtools::lambda::{Binaries, LocalFunction, Output, lambda_bootstrap, target_dir};
use otp_devtools::moto::Moto;
use otp_devtools::plivo_sandbox::PlivoSandbox;
use otp_devtools::runtime_api::RuntimeApi;
use otp_devtools::{repo_root, rsa_signing_key, table};
use serde_json::Value;

const TABLE: &str = "otp-bench";
const TIMEOUT: Duration = Duration::from_secs(20);
/// What `sam build` builds (the Makefile's `LAMBDA_TARGET`).
const DEPLOYED_TARGET: &str = "aarch64-unknown-linux-musl";
/// The bare lambda_http function in `devtools/baseline`.
const BASELINE: &str = "lambda-baseline";
/// The baseline plus one EMF record per invocation, by three writers (`devtools/baseline`):
/// serde_json (what the functions use), awslabs' metrique, `metrics` with
/// metrics_cloudwatch_embedded.
const EMF_WRITERS: [&str; 3] = ["emf-serde", "emf-metrique", "emf-metrics"];
const USAGE: &str = "usage: bench [--short] [--no-build] [--zip] [--soak=N] [--target=TRIPLE]";

struct Options {
    starts: usize,
    warm: usize,
    soak: usize,
    build: bool,
    zip: bool,
    target: String,
}

fn options() -> anyhow::Result<Options> {
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

/// Numbers that no run uses twice: +1 415 55x xxxx.
struct Numbers(u32);

impl Numbers {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("+1415{:07}", 5_500_000 + self.0)
    }
}

fn event(path: &str, body: &str) -> Value {
    http_api_event("POST", path, body, "192.0.2.10")
}

fn send_event(phone: &str) -> Value {
    event("/auth/send-otp", &format!(r#"{{"phoneNumber":"{phone}"}}"#))
}

fn verify_event(phone: &str, otp: &str) -> Value {
    event(
        "/auth/verify-otp",
        &format!(r#"{{"phoneNumber":"{phone}","otp":"{otp}"}}"#),
    )
}

async fn invoke(runtime: &RuntimeApi, event: Value) -> anyhow::Result<u64> {
    Ok(call(runtime, event).await?.status.into())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Median and (min-max) of a sample.
fn spread(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} ({:.1}-{:.1})",
        percentile(values, 50),
        values[0],
        values[values.len() - 1]
    )
}

/// `VmHWM` (peak) and `VmRSS` (now) of a process, in MB.
fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<f64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} not in /proc/{pid}/status"))?;
        let kb: f64 = line
            .split_whitespace()
            .nth(1)
            .context("no value")?
            .parse()?;
        Ok(kb / 1024.0)
    };
    Ok((field("VmHWM:")?, field("VmRSS:")?))
}

/// User plus system CPU time a process has used so far.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let after = &stat[stat.rfind(')').context("bad stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // USER_HZ is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

/// Waits until `runtime`'s process has finished its init and asked for work.
async fn ready(runtime: &RuntimeApi) -> anyhow::Result<()> {
    for _ in 0..2000 {
        if runtime.first_poll().is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("{} did not finish its init", runtime.function_name())
}

struct Setup {
    env: Vec<(&'static str, String)>,
    proxy: DynamoDbProxy,
    plivo: PlivoSandbox,
    _dynalite: Dynalite,
}

impl Setup {
    fn last_code(&self) -> anyhow::Result<String> {
        let messages = self.plivo.messages();
        let text = messages
            .last()
            .and_then(|m| m["text"].as_str())
            .context("no sms")?;
        Ok(text
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .context("no code")?
            .to_owned())
    }
}

async fn setup() -> anyhow::Result<Setup> {
    let dynalite = Dynalite::start(0, None)?;
    table::create_table(&local_client(&dynalite.endpoint()), TABLE).await?;
    let proxy = DynamoDbProxy::start(&dynalite.endpoint()).await?;
    let plivo = PlivoSandbox::start(SocketAddr::from(([127, 0, 0, 1], 0)), false).await?;
    let mut env = vec![
        ("OTP_TABLE_NAME", TABLE.to_owned()),
        (
            "OTP_SECRET",
            "bench-secret-bench-secret-bench-secret".to_owned(),
        ),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint()),
        // The deployed defaults: an allow-list, and the per-minute SMS budget on (sharded),
        // raised so the run is not refused.
        ("OTP_ALLOWED_COUNTRIES", "US,CA,GB,DE,FR".to_owned()),
        ("OTP_MAX_SENDS_PER_MINUTE", "1000000".to_owned()),
        // Every invocation comes from one address; the per-IP limits would stop the run.
        ("OTP_MAX_SENDS_PER_IP_PER_HOUR", "0".to_owned()),
        ("OTP_MAX_FAILURES_PER_IP_PER_HOUR", "0".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        (
            "AWS_LAMBDA_LOG_LEVEL",
            std::env::var("BENCH_LOG_LEVEL").unwrap_or_else(|_| "INFO".to_owned()),
        ),
    ];
    env.extend(plivo.function_env());
    Ok(Setup {
        env,
        proxy,
        plivo,
        _dynalite: dynalite,
    })
}

struct Cold {
    warm_up: bool,
    init: String,
    first: String,
}

struct Row {
    name: &'static str,
    cold: Vec<Cold>,
    p50: f64,
    p99: f64,
    /// CPU time of the function process per invocation: its own work, no waiting.
    cpu: f64,
    /// CPU time per invocation of a request refused at validation.
    floor: f64,
    /// Time DynamoDB took per invocation, measured at the proxy.
    waiting: f64,
    wall: f64,
    peak_mb: f64,
    soak: String,
    binary_mb: f64,
}

/// One cold start: a new process whose first invocation is `event`. Returns init (process
/// start to its first `/next`) and first response in milliseconds, and the response status.
async fn cold_start(
    name: &str,
    binary: &Path,
    env: &[(&str, String)],
    event: Value,
) -> anyhow::Result<(f64, f64, u64)> {
    let runtime = RuntimeApi::start(name, TIMEOUT).await?;
    let pending = {
        let runtime = runtime.clone();
        tokio::spawn(async move { invoke(&runtime, event).await })
    };
    let mut f = LocalFunction::start_with_runtime(binary, runtime, env, Output::Discard).await?;
    let status = pending.await??;
    let answered = Instant::now();
    let init = f.runtime.first_poll().context("never polled")? - f.started;
    f.child.kill().await?;
    Ok((ms(init), ms(answered - f.started), status))
}

fn malformed_event() -> Value {
    event("/", "{")
}

/// CPU milliseconds per invocation over `n` requests that are not JSON (every function
/// answers them 400).
async fn cpu_per_malformed_request(f: &LocalFunction, n: usize) -> anyhow::Result<f64> {
    let pid = f.child.id().context("no pid")?;
    let before = cpu_time(pid)?;
    for _ in 0..n {
        let status = invoke(&f.runtime, malformed_event()).await?;
        expect(status, 400, "malformed request")?;
    }
    Ok(ms(cpu_time(pid)? - before) / n as f64)
}

/// The bare lambda_http function: the floor under the functions' numbers.
struct Baseline {
    init: String,
    first: String,
    cpu: f64,
    peak_mb: f64,
    binary_mb: f64,
}

async fn measure_baseline(name: &str, binary: &Path, opts: &Options) -> anyhow::Result<Baseline> {
    let (mut inits, mut firsts) = (Vec::new(), Vec::new());
    for _ in 0..opts.starts {
        let (init, first, status) = cold_start(name, binary, &[], malformed_event()).await?;
        expect(status, 400, name)?;
        inits.push(init);
        firsts.push(first);
    }
    let mut f = quiet(binary, name, &[]).await?;
    ready(&f.runtime).await?;
    invoke(&f.runtime, malformed_event()).await?;
    let cpu = cpu_per_malformed_request(&f, opts.warm).await?;
    let (peak_mb, _) = memory(f.child.id().context("no pid")?)?;
    f.child.kill().await?;
    Ok(Baseline {
        init: spread(&mut inits),
        first: spread(&mut firsts),
        cpu,
        peak_mb,
        binary_mb: std::fs::metadata(binary)?.len() as f64 / 1e6,
    })
}

/// Cold starts, warm latency and memory of one function.
async fn measure(
    name: &'static str,
    binary: &Path,
    setup: &Setup,
    opts: &Options,
    numbers: &mut Numbers,
    next_event: &mut dyn FnMut(&mut Numbers) -> Value,
) -> anyhow::Result<Row> {
    let mut cold = Vec::new();
    for warm_up in [true, false] {
        let mut env = setup.env.clone();
        env.push(("OTP_INIT_WARMUP", warm_up.to_string()));
        let (mut inits, mut firsts) = (Vec::new(), Vec::new());
        for _ in 0..opts.starts {
            let (init, first, status) = cold_start(name, binary, &env, next_event(numbers)).await?;
            if !(200..500).contains(&status) {
                bail!("{name} answered {status} on a cold start");
            }
            inits.push(init);
            firsts.push(first);
        }
        cold.push(Cold {
            warm_up,
            init: spread(&mut inits),
            first: spread(&mut firsts),
        });
    }

    let mut f = quiet(binary, name, &setup.env).await?;
    ready(&f.runtime).await?;
    invoke(&f.runtime, next_event(numbers)).await?;
    setup.proxy.take();
    let pid = f.child.id().context("no pid")?;
    let cpu_before = cpu_time(pid)?;
    let mut latencies = Vec::with_capacity(opts.warm);
    let started = Instant::now();
    for _ in 0..opts.warm {
        let event = next_event(numbers);
        let t = Instant::now();
        invoke(&f.runtime, event).await?;
        latencies.push(ms(t.elapsed()));
    }
    let total = started.elapsed();
    let dynamodb = setup.proxy.take().server_time;
    let cpu = cpu_time(pid)? - cpu_before;
    latencies.sort_by(f64::total_cmp);
    // A request refused at validation costs the runtime's two HTTP round trips, JSON and
    // validation, and none of the SDK's or Plivo client's work.
    let floor = cpu_per_malformed_request(&f, opts.warm).await?;
    let pid = f.child.id().context("no pid")?;
    let (peak_mb, rss_after_warm) = memory(pid)?;
    let soak = if opts.soak > 0 {
        // Resident memory after each fifth of the soak: growth that levels off is the
        // allocator settling, growth that keeps climbing is a leak.
        let mut series = vec![format!("{rss_after_warm:.1}")];
        for _ in 0..5 {
            for _ in 0..opts.soak / 5 {
                invoke(&f.runtime, next_event(numbers)).await?;
            }
            series.push(format!("{:.1}", memory(pid)?.1));
        }
        series.join(" -> ")
    } else {
        "-".to_owned()
    };
    f.child.kill().await?;
    Ok(Row {
        name,
        cold,
        p50: percentile(&latencies, 50),
        p99: percentile(&latencies, 99),
        cpu: ms(cpu) / opts.warm as f64,
        floor,
        waiting: ms(dynamodb) / opts.warm as f64,
        wall: ms(total) / opts.warm as f64,
        peak_mb,
        soak,
        binary_mb: std::fs::metadata(binary)?.len() as f64 / 1e6,
    })
}

/// Sends a code to a new number through `send`; returns the number and the code.
async fn sent_code(
    send: &RuntimeApi,
    setup: &Setup,
    numbers: &mut Numbers,
) -> anyhow::Result<(String, String)> {
    let phone = numbers.next();
    expect(invoke(send, send_event(&phone)).await?, 200, "send")?;
    Ok((phone, setup.last_code()?))
}

/// A fresh 2048-bit RSA signing key and the settings that turn tokens on.
fn token_env() -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("OTP_TOKEN_SIGNING_KEY", rsa_signing_key()?),
        ("OTP_TOKEN_ISSUER", "https://otp.example.com".to_owned()),
        ("OTP_TOKEN_AUDIENCE", "bench".to_owned()),
    ])
}

/// What a signing key costs verify-otp: its init (cold starts) and a right code's latency
/// and CPU (the code checked, consumed and, with the key, a token signed).
struct TokenCost {
    setting: &'static str,
    init: String,
    p50: f64,
    cpu: f64,
}

async fn token_cost(
    bin: &Binaries,
    setup: &Setup,
    opts: &Options,
    numbers: &mut Numbers,
) -> anyhow::Result<Vec<TokenCost>> {
    let send = quiet(&bin.send_otp, "send-otp", &setup.env).await?;
    ready(&send.runtime).await?;
    let mut with_key = setup.env.clone();
    with_key.extend(token_env()?);
    let mut rows = Vec::new();
    for (setting, env) in [
        ("no signing key", &setup.env),
        ("2048-bit RSA key", &with_key),
    ] {
        let mut inits = Vec::new();
        for _ in 0..opts.starts {
            let event = verify_event(&numbers.next(), "123456");
            inits.push(
                cold_start("verify-otp", &bin.verify_otp, env, event)
                    .await?
                    .0,
            );
        }
        let mut f = quiet(&bin.verify_otp, "verify-otp", env).await?;
        ready(&f.runtime).await?;
        let pid = f.child.id().context("no pid")?;
        let (mut latencies, mut cpu) = (Vec::new(), Duration::ZERO);
        for _ in 0..opts.warm / 5 {
            let (phone, code) = sent_code(&send.runtime, setup, numbers).await?;
            let event = verify_event(&phone, &code);
            let (before, t) = (cpu_time(pid)?, Instant::now());
            expect(invoke(&f.runtime, event).await?, 200, "verify")?;
            latencies.push(ms(t.elapsed()));
            cpu += cpu_time(pid)? - before;
        }
        f.child.kill().await?;
        latencies.sort_by(f64::total_cmp);
        rows.push(TokenCost {
            setting,
            init: spread(&mut inits),
            p50: percentile(&latencies, 50),
            cpu: ms(cpu) / latencies.len() as f64,
        });
    }
    Ok(rows)
}

/// What reading `OTP_SECRET` from Secrets Manager or SSM at init costs verify-otp (moto's
/// server on loopback, over plain HTTP: the SDK client and one request, without the TLS
/// handshake a deployment adds).
async fn secret_cost(
    bin: &Binaries,
    setup: &Setup,
    opts: &Options,
    numbers: &mut Numbers,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let moto = Moto::start().await?;
    let secret = setup
        .env
        .iter()
        .find(|(k, _)| *k == "OTP_SECRET")
        .context("no OTP_SECRET")?
        .1
        .clone();
    let from = |var: &'static str, arn: String| {
        let mut env: Vec<(&'static str, String)> = setup
            .env
            .iter()
            .filter(|(k, _)| *k != "OTP_SECRET")
            .cloned()
            .collect();
        env.push((var, arn));
        env.extend(moto.function_env());
        env
    };
    let secrets_manager = from("OTP_SECRET_ARN", moto.create_secret("otp", &secret).await?);
    let parameter = from("OTP_SECRET_ARN", moto.put_parameter("/otp", &secret).await?);
    let mut rows = Vec::new();
    for (setting, env) in [
        ("OTP_SECRET in the environment", &setup.env),
        ("OTP_SECRET_ARN: Secrets Manager", &secrets_manager),
        ("OTP_SECRET_ARN: SSM parameter", &parameter),
    ] {
        let mut inits = Vec::new();
        for _ in 0..opts.starts {
            let event = verify_event(&numbers.next(), "123456");
            let (init, _, status) = cold_start("verify-otp", &bin.verify_otp, env, event).await?;
            expect(status, 401, setting)?;
            inits.push(init);
        }
        rows.push((setting, spread(&mut inits)));
    }
    Ok(rows)
}

/// A function process whose output is discarded, as Lambda ships it away through a pipe.
async fn quiet(binary: &Path, name: &str, env: &[(&str, String)]) -> anyhow::Result<LocalFunction> {
    LocalFunction::start_with_output(binary, name, env, TIMEOUT, Output::Discard).await
}

/// DynamoDB requests of one send, one right verify and one wrong verify.
async fn requests_per_operation(
    bin: &Binaries,
    setup: &Setup,
    numbers: &mut Numbers,
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let send = quiet(&bin.send_otp, "send-otp", &setup.env).await?;
    let verify = quiet(&bin.verify_otp, "verify-otp", &setup.env).await?;
    ready(&send.runtime).await?;
    ready(&verify.runtime).await?;
    let describe = |t: otp_devtools::dynamodb_proxy::Tally| {
        let ops: Vec<String> = t.requests.iter().map(|(k, v)| format!("{v} {k}")).collect();
        format!("{} ({})", t.total(), ops.join(", "))
    };
    let mut rows = Vec::new();

    setup.proxy.take();
    let (phone, code) = sent_code(&send.runtime, setup, numbers).await?;
    rows.push(("send", describe(setup.proxy.take())));

    expect(
        invoke(&verify.runtime, verify_event(&phone, &code)).await?,
        200,
        "verify",
    )?;
    rows.push(("verify, right code", describe(setup.proxy.take())));

    let (phone, code) = sent_code(&send.runtime, setup, numbers).await?;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    setup.proxy.take();
    expect(
        invoke(&verify.runtime, verify_event(&phone, wrong)).await?,
        401,
        "verify",
    )?;
    rows.push(("verify, wrong code", describe(setup.proxy.take())));
    Ok(rows)
}

fn expect(status: u64, want: u64, what: &str) -> anyhow::Result<()> {
    if status != want {
        bail!("{what} answered {status}, expected {want}");
    }
    Ok(())
}

/// Builds the functions (and, unless zipping, the baseline) for `target` with cargo lambda
/// into their own folder under the target directory (its default folder is shared by every
/// target's build), and returns that folder.
async fn lambda_build(root: &Path, target: &str, zip: bool) -> anyhow::Result<PathBuf> {
    let dir = target_dir(root).await?.join("bench").join(if zip {
        format!("{target}-zip")
    } else {
        target.to_owned()
    });
    let dir_arg = dir.to_str().context("target directory is not UTF-8")?;
    let mut args = vec!["lambda", "build", "--release", "--target", target];
    args.extend([
        "-p",
        "send-otp",
        "-p",
        "verify-otp",
        "-p",
        "plivo-callback",
        "--lambda-dir",
        dir_arg,
    ]);
    if zip {
        args.extend(["--output-format", "zip"]);
    }
    run_cargo(root, &args, target).await?;
    if !zip {
        // Built on their own: in one build, cargo would unify the features their dependencies
        // ask for with the functions' (metrique turns on tracing-subscriber's log bridge).
        let mut baseline = vec!["lambda", "build", "--release", "--target", target];
        baseline.extend(["-p", "lambda-baseline", "--lambda-dir", dir_arg]);
        run_cargo(root, &baseline, target).await?;
    }
    Ok(dir)
}

async fn run_cargo(root: &Path, args: &[&str], target: &str) -> anyhow::Result<()> {
    let status = tokio::process::Command::new("cargo")
        .args(args)
        .current_dir(root)
        .status()
        .await
        .context("cargo lambda (pip install cargo-lambda)")?;
    if !status.success() {
        bail!("cargo lambda build --target {target} failed");
    }
    Ok(())
}

async fn zip_sizes(root: &Path) -> anyhow::Result<Vec<(String, f64)>> {
    let dir = lambda_build(root, DEPLOYED_TARGET, true).await?;
    let mut sizes = Vec::new();
    for name in ["send-otp", "verify-otp", "plivo-callback"] {
        let zip = lambda_bootstrap(&dir, name).with_extension("zip");
        sizes.push((name.to_owned(), std::fs::metadata(&zip)?.len() as f64 / 1e6));
    }
    Ok(sizes)
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

    println!(
        "\n{} cold starts, {} warm invocations{} per function; built for {}; machine: {} cores\n",
        opts.starts,
        opts.warm,
        if opts.soak > 0 {
            format!(", then {} more for memory growth", opts.soak)
        } else {
            String::new()
        },
        opts.target,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    println!(
        "| function | DynamoDB warm-up in init | init ms: start to first /next, median (min-max) | first response ms, median (min-max) |"
    );
    println!("|---|---|---|---|");
    for r in [&send, &verify] {
        for c in &r.cold {
            let warm_up = if c.warm_up { "on (default)" } else { "off" };
            println!("| {} | {warm_up} | {} | {} |", r.name, c.init, c.first);
        }
    }
    println!(
        "| {BASELINE} (bare lambda_http) | - | {} | {} |",
        baseline.init, baseline.first
    );
    println!(
        "\n| function | warm p50 ms | warm p99 ms | mean ms (of it DynamoDB) | CPU ms per invoke | CPU ms per invoke, refused at validation | peak RSS MB | RSS MB during soak (each fifth) | binary MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for r in [&send, &verify] {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} ({:.2}) | {:.3} | {:.3} | {:.1} | {} | {:.1} |",
            r.name, r.p50, r.p99, r.wall, r.waiting, r.cpu, r.floor, r.peak_mb, r.soak, r.binary_mb
        );
    }
    println!(
        "| {BASELINE} (bare lambda_http) | - | - | - | - | {:.3} | {:.1} | - | {:.1} |",
        baseline.cpu, baseline.peak_mb, baseline.binary_mb
    );
    // Plivo's callbacks: off the user's path, so only their size is tracked here.
    let callback_mb = std::fs::metadata(&bin.plivo_callback)?.len() as f64 / 1e6;
    println!("| plivo-callback (size only) | - | - | - | - | - | - | - | {callback_mb:.1} |");
    println!(
        "\n| verify-otp | init ms, median (min-max) | right code: p50 ms | right code: CPU ms per invoke |\n|---|---|---|---|"
    );
    for t in &tokens {
        println!(
            "| {} | {} | {:.2} | {:.3} |",
            t.setting, t.init, t.p50, t.cpu
        );
    }
    println!(
        "\n| EMF writer (on the baseline) | init ms, median (min-max) | first response ms | CPU ms per invoke | peak RSS MB | binary MB |\n|---|---|---|---|---|---|"
    );
    for (name, b) in
        std::iter::once((BASELINE, &baseline)).chain(writers.iter().map(|(n, b)| (*n, b)))
    {
        println!(
            "| {name} | {} | {} | {:.3} | {:.1} | {:.2} |",
            b.init, b.first, b.cpu, b.peak_mb, b.binary_mb
        );
    }
    println!("\n| verify-otp | init ms, median (min-max) |\n|---|---|");
    for (setting, init) in &secrets {
        println!("| {setting} | {init} |");
    }
    println!("\n| operation | DynamoDB requests |\n|---|---|");
    for (op, count) in &requests {
        println!("| {op} | {count} |");
    }
    if !zips.is_empty() {
        println!("\n| function | {DEPLOYED_TARGET} zip MB |\n|---|---|");
        for (name, mb) in &zips {
            println!("| {name} | {mb:.2} |");
        }
    }
    Ok(())
}
