//! The measurements: cold starts, warm latency, CPU and memory of each function, the costs of
//! token signing and of reading the secret at init, and DynamoDB requests per operation.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use otp_devtools::lambda::{Binaries, LocalFunction, Output};
use otp_devtools::moto::Moto;
use otp_devtools::runtime_api::RuntimeApi;
use serde_json::Value;

use crate::Options;
use crate::probes::{cpu_time, expect, invoke, memory, ms, percentile, ready, spread};
use crate::scenarios::{
    Numbers, Setup, TIMEOUT, malformed_event, quiet, sent_code, sent_id, token_env,
    verification_event, verify_by_id_event, verify_event,
};

pub(crate) struct Cold {
    pub(crate) warm_up: bool,
    pub(crate) init: String,
    pub(crate) first: String,
}

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) cold: Vec<Cold>,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    /// CPU time of the function process per invocation: its own work, no waiting.
    pub(crate) cpu: f64,
    /// CPU time per invocation of a request refused at validation.
    pub(crate) floor: f64,
    /// Time DynamoDB took per invocation, measured at the proxy.
    pub(crate) waiting: f64,
    pub(crate) wall: f64,
    pub(crate) peak_mb: f64,
    pub(crate) soak: String,
    pub(crate) binary_mb: f64,
}

/// One cold start: a new process whose first invocation is `event`. Returns init (process
/// start to its first `/next`) and first response in milliseconds, and the response status.
pub(crate) async fn cold_start(
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

/// CPU milliseconds per invocation over `n` requests that are not JSON (every function
/// answers them 400).
pub(crate) async fn cpu_per_malformed_request(f: &LocalFunction, n: usize) -> anyhow::Result<f64> {
    let pid = f.child.id().context("no pid")?;
    let before = cpu_time(pid)?;
    for _ in 0..n {
        let status = invoke(&f.runtime, malformed_event()).await?;
        expect(status, 400, "malformed request")?;
    }
    Ok(ms(cpu_time(pid)? - before) / n as f64)
}

/// The bare lambda_http function: the floor under the functions' numbers.
pub(crate) struct Baseline {
    pub(crate) init: String,
    pub(crate) first: String,
    pub(crate) cpu: f64,
    pub(crate) peak_mb: f64,
    pub(crate) binary_mb: f64,
}

pub(crate) async fn measure_baseline(
    name: &str,
    binary: &Path,
    opts: &Options,
) -> anyhow::Result<Baseline> {
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
pub(crate) async fn measure(
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

/// What a signing key costs verify-otp: its init (cold starts) and a right code's latency
/// and CPU (the code checked, consumed and, with the key, a token signed).
pub(crate) struct TokenCost {
    pub(crate) setting: &'static str,
    pub(crate) init: String,
    pub(crate) p50: f64,
    pub(crate) cpu: f64,
}

pub(crate) async fn token_cost(
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
pub(crate) async fn secret_cost(
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

/// DynamoDB requests of one send, one right verify and one wrong verify, by number and by
/// verification id, and of a verification's status and cancel.
pub(crate) async fn requests_per_operation(
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

    // By verification id: a wrong code, the status, a right code, then a cancel of a new one.
    let (id, code) = sent_id(&send.runtime, setup, numbers).await?;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    setup.proxy.take();
    let by_id = |otp: &str| verify_by_id_event(&id, otp);
    expect(
        invoke(&verify.runtime, by_id(wrong)).await?,
        401,
        "verify by id",
    )?;
    rows.push(("verify by id, wrong code", describe(setup.proxy.take())));
    let status = verification_event("GET", &format!("/auth/verifications/{id}"));
    expect(invoke(&verify.runtime, status).await?, 200, "status")?;
    rows.push(("verification status", describe(setup.proxy.take())));
    expect(
        invoke(&verify.runtime, by_id(&code)).await?,
        200,
        "verify by id",
    )?;
    rows.push(("verify by id, right code", describe(setup.proxy.take())));
    let (id, _) = sent_id(&send.runtime, setup, numbers).await?;
    setup.proxy.take();
    let cancel = verification_event("POST", &format!("/auth/verifications/{id}/cancel"));
    expect(invoke(&verify.runtime, cancel).await?, 200, "cancel")?;
    rows.push(("verification cancel", describe(setup.proxy.take())));
    Ok(rows)
}
