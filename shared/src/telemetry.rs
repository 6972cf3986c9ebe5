//! Logging: JSON lines in Lambda (`AWS_LAMBDA_LOG_FORMAT=JSON`), plain text elsewhere.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{Directive, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

use crate::clock::rfc3339;

/// Crates that write request or response bodies (the OTP, the phone number, the Plivo
/// request) at TRACE level. They are held at DEBUG whatever level the environment asks for.
const BODY_LOGGING_TARGETS: &[&str] = &[
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "reqwest",
    "hyper",
    "hyper_util",
    "h2",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
];

/// RFC 3339 UTC timestamps to the millisecond. Microseconds would put a six-digit run in every
/// line, the shape of a code.
struct Rfc3339Millis;

impl FormatTime for Rfc3339Millis {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        w.write_str(&rfc3339(std::time::SystemTime::now()))
    }
}

/// Crates whose own logs name the phone number they parse (rlibphonenumber writes the national
/// number at TRACE through the `log` crate, which reaches these logs wherever a dependency
/// switches on tracing-subscriber's `log` bridge). Held at WARN whatever level is asked for.
const NUMBER_LOGGING_TARGETS: &[&str] = &["rlibphonenumber"];

/// Sets up the global subscriber, writing to standard output.
pub fn init() {
    init_with_writer(std::io::stdout);
}

/// Like [`init`], with the level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default INFO).
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| LevelFilter::from_str(&l).ok())
        .unwrap_or(LevelFilter::INFO);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy("");
    let caps = [
        (BODY_LOGGING_TARGETS, level.min(LevelFilter::DEBUG)),
        (NUMBER_LOGGING_TARGETS, level.min(LevelFilter::WARN)),
    ];
    for (targets, cap) in caps {
        for target in targets {
            if let Ok(directive) = Directive::from_str(&format!("{target}={cap}")) {
                filter = filter.add_directive(directive);
            }
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_timer(Rfc3339Millis);
    // JSON lines carry an RFC 3339 `timestamp`: Lambda's log-level filter reads a line's
    // `level` only when it has one, and counts every other line as INFO. Text lines go without
    // (Lambda stamps each line itself).
    let result = if json {
        builder.json().with_current_span(true).try_init()
    } else {
        builder.without_time().try_init()
    };
    // A second call (tests) keeps the first subscriber.
    let _ = result;
}
