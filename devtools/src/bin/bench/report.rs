//! The benchmark's tables, in Markdown, as the README and docs/performance.md show them.

use crate::measures::{Baseline, Row, TokenCost};
use crate::{BASELINE, DEPLOYED_TARGET, Options};

/// Everything one run measured.
pub(crate) struct Results {
    pub(crate) opts: Options,
    pub(crate) send: Row,
    pub(crate) verify: Row,
    pub(crate) baseline: Baseline,
    /// The baseline with each of the EMF writers.
    pub(crate) writers: Vec<(&'static str, Baseline)>,
    pub(crate) tokens: Vec<TokenCost>,
    /// verify-otp's init, by where its secret is read from.
    pub(crate) secrets: Vec<(&'static str, String)>,
    /// DynamoDB requests, by operation.
    pub(crate) requests: Vec<(&'static str, String)>,
    /// The deployed zips' sizes in MB, when built.
    pub(crate) zips: Vec<(String, f64)>,
    pub(crate) callback_mb: f64,
}

pub(crate) fn print(r: &Results) {
    heading(&r.opts);
    cold_starts(r);
    warm(r);
    tokens(&r.tokens);
    emf_writers(&r.baseline, &r.writers);
    println!("\n| verify-otp | init ms, median (min-max) |\n|---|---|");
    for (setting, init) in &r.secrets {
        println!("| {setting} | {init} |");
    }
    println!("\n| operation | DynamoDB requests |\n|---|---|");
    for (op, count) in &r.requests {
        println!("| {op} | {count} |");
    }
    if !r.zips.is_empty() {
        println!("\n| function | {DEPLOYED_TARGET} zip MB |\n|---|---|");
        for (name, mb) in &r.zips {
            println!("| {name} | {mb:.2} |");
        }
    }
}

fn heading(opts: &Options) {
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
}

fn cold_starts(r: &Results) {
    println!(
        "| function | DynamoDB warm-up in init | init ms: start to first /next, median (min-max) | first response ms, median (min-max) |"
    );
    println!("|---|---|---|---|");
    for row in [&r.send, &r.verify] {
        for c in &row.cold {
            let warm_up = if c.warm_up { "on (default)" } else { "off" };
            println!("| {} | {warm_up} | {} | {} |", row.name, c.init, c.first);
        }
    }
    println!(
        "| {BASELINE} (bare lambda_http) | - | {} | {} |",
        r.baseline.init, r.baseline.first
    );
}

fn warm(r: &Results) {
    println!(
        "\n| function | warm p50 ms | warm p99 ms | mean ms (of it DynamoDB) | CPU ms per invoke | CPU ms per invoke, refused at validation | peak RSS MB | RSS MB during soak (each fifth) | binary MB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in [&r.send, &r.verify] {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} ({:.2}) | {:.3} | {:.3} | {:.1} | {} | {:.1} |",
            row.name,
            row.p50,
            row.p99,
            row.wall,
            row.waiting,
            row.cpu,
            row.floor,
            row.peak_mb,
            row.soak,
            row.binary_mb
        );
    }
    let b = &r.baseline;
    println!(
        "| {BASELINE} (bare lambda_http) | - | - | - | - | {:.3} | {:.1} | - | {:.1} |",
        b.cpu, b.peak_mb, b.binary_mb
    );
    // Plivo's callbacks: off the user's path, so only their size is tracked here.
    println!(
        "| plivo-callback (size only) | - | - | - | - | - | - | - | {:.1} |",
        r.callback_mb
    );
}

fn tokens(tokens: &[TokenCost]) {
    println!(
        "\n| verify-otp | init ms, median (min-max) | right code: p50 ms | right code: CPU ms per invoke |\n|---|---|---|---|"
    );
    for t in tokens {
        println!(
            "| {} | {} | {:.2} | {:.3} |",
            t.setting, t.init, t.p50, t.cpu
        );
    }
}

fn emf_writers(baseline: &Baseline, writers: &[(&'static str, Baseline)]) {
    println!(
        "\n| EMF writer (on the baseline) | init ms, median (min-max) | first response ms | CPU ms per invoke | peak RSS MB | binary MB |\n|---|---|---|---|---|---|"
    );
    for (name, b) in
        std::iter::once((BASELINE, baseline)).chain(writers.iter().map(|(n, b)| (*n, b)))
    {
        println!(
            "| {name} | {} | {} | {:.3} | {:.1} | {:.2} |",
            b.init, b.first, b.cpu, b.peak_mb, b.binary_mb
        );
    }
}
