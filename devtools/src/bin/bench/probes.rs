//! What the benchmark reads off a function: its answers, its process's memory and CPU time,
//! and the statistics of a sample.

use std::time::Duration;

use anyhow::{Context, bail};
use otp_devtools::apigw::call;
use otp_devtools::runtime_api::RuntimeApi;
use serde_json::Value;

pub(crate) async fn invoke(runtime: &RuntimeApi, event: Value) -> anyhow::Result<u64> {
    Ok(call(runtime, event).await?.status.into())
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn percentile(sorted: &[f64], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// Median and (min-max) of a sample.
pub(crate) fn spread(values: &mut [f64]) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} ({:.1}-{:.1})",
        percentile(values, 50),
        values[0],
        values[values.len() - 1]
    )
}

/// `VmHWM` (peak) and `VmRSS` (now) of a process, in MB.
pub(crate) fn memory(pid: u32) -> anyhow::Result<(f64, f64)> {
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
pub(crate) fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let after = &stat[stat.rfind(')').context("bad stat")? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    // USER_HZ is 100 on Linux.
    Ok(Duration::from_millis(ticks * 10))
}

/// Waits until `runtime`'s process has finished its init and asked for work.
pub(crate) async fn ready(runtime: &RuntimeApi) -> anyhow::Result<()> {
    for _ in 0..2000 {
        if runtime.first_poll().is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("{} did not finish its init", runtime.function_name())
}

pub(crate) fn expect(status: u64, want: u64, what: &str) -> anyhow::Result<()> {
    if status != want {
        bail!("{what} answered {status}, expected {want}");
    }
    Ok(())
}
