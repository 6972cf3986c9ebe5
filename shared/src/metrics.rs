//! Metrics: one CloudWatch Embedded Metric Format (EMF) record per invocation, a JSON line on
//! standard output that CloudWatch Logs turns into metrics. No agent, no API call, no extra
//! latency: the line goes out with the function's logs.
//!
//! Dimensions stay few and low in cardinality (operation, outcome, the limit that tripped,
//! the destination's region), so the metric count, and its bill, is bounded by the allow-list
//! and never by numbers, addresses or ranges.
//!
//! With JSON logs and an application log level, Lambda drops every line whose `level` is
//! below that level, and reads a line without a `level`, or without an RFC 3339 `timestamp`,
//! as INFO. A record carries the configured level itself (`AWS_LAMBDA_LOG_LEVEL`) and a
//! timestamp, so no level ever filters the metrics out.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};

use crate::clock::{epoch_millis, rfc3339};
use crate::config::MetricsConfig;
use crate::domain::{Channel, DeliveryOutcome, Region};
use crate::error::OtpError;
use crate::timing::{self, Spent};

/// The levels Lambda's log-level filter knows, least severe first.
const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Send,
    Verify,
    /// A request for the token keys (`/.well-known/...`).
    Keys,
    /// A verification's status read, or its cancelling.
    Verification,
    /// A delivery report from Plivo.
    Receipt,
    /// Plivo fetching what a voice call says.
    Answer,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Send => "Send",
            Operation::Verify => "Verify",
            Operation::Keys => "Keys",
            Operation::Verification => "Verification",
            Operation::Receipt => "Receipt",
            Operation::Answer => "Answer",
        }
    }
}

/// What became of a request, as the `Outcome` dimension names it.
fn outcome<T>(result: &Result<T, OtpError>, operation: Operation) -> &'static str {
    match result {
        Ok(_) => match operation {
            Operation::Send => "Sent",
            Operation::Verify => "Verified",
            Operation::Keys | Operation::Verification => "Served",
            Operation::Receipt => "Recorded",
            Operation::Answer => "Spoken",
        },
        Err(err) => err.describe().outcome,
    }
}

/// What a request's handler knows about it beyond its outcome.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// The destination's region, once the number parsed.
    pub(crate) region: Option<Region>,
    /// The SMS segments of the message sent.
    pub(crate) segments: Option<u32>,
    /// Where a reported message ended, when its report settles it (and was not seen before).
    pub(crate) delivery: Option<DeliveryOutcome>,
    /// Plivo's error code of a failed delivery.
    pub(crate) delivery_error: Option<u32>,
    /// How a code sent went out.
    pub(crate) channel: Option<Channel>,
    /// The outcome to record instead of the operation's own name for a success (an answer
    /// can prompt, speak, meet a machine or a hangup).
    pub(crate) outcome: Option<&'static str>,
}

type Sink = Arc<dyn Fn(&[u8]) + Send + Sync>;

/// The metrics of one execution environment: built once, shared by its invocations.
pub struct Metrics {
    namespace: String,
    level: &'static str,
    sink: Option<Sink>,
    /// Whether an invocation has been recorded yet: the first one is the cold start.
    warm: AtomicBool,
}

impl Metrics {
    /// No metrics at all (the default of the use cases; the functions' mains switch them on).
    pub fn off() -> Self {
        Self {
            namespace: String::new(),
            level: "INFO",
            sink: None,
            warm: AtomicBool::new(false),
        }
    }

    /// Records to standard output, in the configured namespace, at the configured level.
    pub(crate) fn to_stdout(config: &MetricsConfig) -> Self {
        Self::to_writer(&config.namespace, config.log_level.as_deref(), |line| {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(line).and_then(|()| out.flush());
        })
    }

    /// Records through `write`, one line (newline included) per call, in `namespace`, at
    /// `log_level` (a Lambda application log level; INFO when unset or unknown).
    pub fn to_writer(
        namespace: &str,
        log_level: Option<&str>,
        write: impl Fn(&[u8]) + Send + Sync + 'static,
    ) -> Self {
        let level = log_level
            .and_then(|l| {
                LEVELS
                    .into_iter()
                    .find(|k| k.eq_ignore_ascii_case(l.trim()))
            })
            .unwrap_or("INFO");
        Self {
            namespace: namespace.to_owned(),
            level,
            sink: Some(Arc::new(write)),
            warm: AtomicBool::new(false),
        }
    }

    /// Runs one invocation's work, timing it and its dependencies, and records its outcome.
    pub(crate) async fn measure<T>(
        &self,
        operation: Operation,
        work: impl Future<Output = (Result<T, OtpError>, Facts)>,
    ) -> Result<T, OtpError> {
        let start = Instant::now();
        // Boxed: the work holds the SDK's request futures, tens of kilobytes, which would
        // otherwise be copied through each layer on the stack.
        let work = Box::pin(work);
        let ((result, facts), spent) = timing::scope(work).await;
        if let Some(sink) = &self.sink {
            let cold = !self.warm.swap(true, Ordering::Relaxed);
            let limit = result.as_ref().err().and_then(OtpError::limit);
            let record = Record {
                operation,
                outcome: match (&result, facts.outcome) {
                    (Ok(_), Some(named)) => named,
                    _ => outcome(&result, operation),
                },
                limit: limit.map(|(limit, _)| limit.metric_name()),
                facts,
                latency: start.elapsed(),
                spent,
                cold,
            };
            let mut line = record
                .emf(&self.namespace, self.level, SystemTime::now())
                .to_string();
            line.push('\n');
            sink(line.as_bytes());
        }
        result
    }
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 1e2
}

/// One invocation, as recorded.
struct Record {
    operation: Operation,
    outcome: &'static str,
    limit: Option<&'static str>,
    facts: Facts,
    latency: Duration,
    spent: Spent,
    cold: bool,
}

impl Record {
    /// The EMF document: each group of metrics with the dimensions it is published under.
    ///
    /// - `Requests` by operation and outcome: the outcome counts, and every rate the alarms
    ///   watch (errors, SMS failures, sends per minute).
    /// - `Latency`, `DynamoDbLatency`, `PlivoLatency`, `Segments`, `ColdStart` by operation.
    /// - `Sent`, `Verified` and `Unverified` (+1 per send, -1 per verify) by region: the
    ///   conversion rate per region, which falls when SMS pumping starts, and the codes
    ///   nobody entered.
    /// - `LimitReached` by operation and limit: which defence is refusing.
    /// - `Delivered` and `DeliveryFailed` by region, `DeliveryErrors` by Plivo's error code:
    ///   where reported messages ended (receipts on).
    fn emf(&self, namespace: &str, level: &str, time: SystemTime) -> Value {
        let mut emf = Emf::default();
        emf.group(
            &["Operation", "Outcome"],
            vec![("Requests", "Count", json!(1))],
        );
        emf.group(&["Operation"], self.timing());
        self.regional(&mut emf);
        self.delivery(&mut emf);
        if let Some(limit) = self.limit {
            emf.group(
                &["Operation", "Limit"],
                vec![("LimitReached", "Count", json!(1))],
            );
            emf.field("Limit", json!(limit));
        }
        emf.field("Operation", json!(self.operation.as_str()));
        emf.field("Outcome", json!(self.outcome));
        emf.field("level", json!(level));
        emf.field("timestamp", json!(rfc3339(time)));
        emf.finish(namespace, time)
    }

    /// Latency, the cold start and the dependencies' time, and the segments billed.
    fn timing(&self) -> Vec<Metric> {
        let mut timing = vec![
            ("Latency", "Milliseconds", json!(millis(self.latency))),
            ("ColdStart", "Count", json!(u8::from(self.cold))),
        ];
        if let Some(d) = self.spent.dynamodb {
            timing.push(("DynamoDbLatency", "Milliseconds", json!(millis(d))));
        }
        if let Some(d) = self.spent.plivo {
            timing.push(("PlivoLatency", "Milliseconds", json!(millis(d))));
        }
        if let Some(segments) = self.facts.segments {
            timing.push(("Segments", "Count", json!(segments)));
        }
        timing
    }

    /// The region's counts: codes sent and verified, and calls.
    fn regional(&self, emf: &mut Emf) {
        if self.facts.region.is_some() {
            emf.field("Region", json!(self.region()));
        }
        // `Unverified` adds one per code sent and takes one away per code verified: summed over
        // an hour, per region, the codes nobody entered (what SMS pumping leaves behind).
        let by_region = match self.outcome {
            "Sent" => Some(("Sent", 1)),
            "Verified" => Some(("Verified", -1)),
            _ => None,
        };
        if let Some((name, unverified)) = by_region {
            emf.group(
                &["Region"],
                vec![
                    (name, "Count", json!(1)),
                    ("Unverified", "Count", json!(unverified)),
                ],
            );
            emf.field("Region", json!(self.region()));
        }
        // Calls, by region: the dearest channel, and the one pumping aims at most.
        if self.facts.channel == Some(Channel::Voice) && self.outcome == "Sent" {
            emf.group(&["Region"], vec![("Calls", "Count", json!(1))]);
            emf.field("Channel", json!("voice"));
        }
    }

    /// Where reported messages ended, per region, and why the failed ones failed (Plivo's
    /// codes are a short documented list of up to four digits; anything longer counts as
    /// `Other`).
    fn delivery(&self, emf: &mut Emf) {
        if let Some(outcome) = self.facts.delivery {
            let name = match outcome {
                DeliveryOutcome::Delivered => "Delivered",
                DeliveryOutcome::Failed => "DeliveryFailed",
            };
            emf.group(&["Region"], vec![(name, "Count", json!(1))]);
            emf.field("Region", json!(self.region()));
        }
        if let Some(code) = self.facts.delivery_error {
            let code = if code < 10_000 {
                code.to_string()
            } else {
                "Other".to_owned()
            };
            emf.group(&["ErrorCode"], vec![("DeliveryErrors", "Count", json!(1))]);
            emf.field("ErrorCode", json!(code));
        }
    }

    /// The region, with numbers no region claims under CLDR's "unknown region".
    fn region(&self) -> String {
        self.facts
            .region
            .map_or_else(|| "ZZ".to_owned(), |r| r.to_string())
    }
}

/// A metric: its name, unit and value.
type Metric = (&'static str, &'static str, Value);

/// One EMF record being written: its metric groups (dimensions, metrics) and its fields.
#[derive(Default)]
struct Emf {
    groups: Vec<(&'static [&'static str], Vec<Metric>)>,
    fields: Map<String, Value>,
}

impl Emf {
    fn group(&mut self, dimensions: &'static [&'static str], metrics: Vec<Metric>) {
        self.groups.push((dimensions, metrics));
    }

    fn field(&mut self, name: &str, value: Value) {
        self.fields.insert(name.to_owned(), value);
    }

    /// The record: every field, each metric's value, and the `_aws` directives naming them.
    fn finish(mut self, namespace: &str, time: SystemTime) -> Value {
        let directives: Vec<Value> = self
            .groups
            .into_iter()
            .map(|(dimensions, metrics)| {
                let definitions: Vec<Value> = metrics
                    .into_iter()
                    .map(|(name, unit, value)| {
                        self.fields.insert(name.to_owned(), value);
                        json!({"Name": name, "Unit": unit})
                    })
                    .collect();
                json!({"Namespace": namespace, "Dimensions": [dimensions], "Metrics": definitions})
            })
            .collect();
        self.fields.insert(
            "_aws".to_owned(),
            json!({"Timestamp": epoch_millis(time), "CloudWatchMetrics": directives}),
        );
        Value::Object(self.fields)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::timing::{Dependency, timed};

    fn capture(level: Option<&str>) -> (Metrics, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = lines.clone();
        let metrics = Metrics::to_writer("Test", level, move |line| {
            out.lock()
                .unwrap()
                .push(String::from_utf8(line.to_vec()).unwrap());
        });
        (metrics, lines)
    }

    /// Lambda's filter: a line passes when its level is at or above the configured one; a
    /// line without a known level, or without a valid RFC 3339 timestamp, counts as INFO.
    fn passes(line: &Value, configured: &str) -> bool {
        let rank = |l: &str| LEVELS.iter().position(|k| k.eq_ignore_ascii_case(l));
        let stamped = line["timestamp"].as_str().is_some_and(is_rfc3339);
        let level = line["level"]
            .as_str()
            .and_then(rank)
            .filter(|_| stamped)
            .unwrap_or(2);
        level >= rank(configured).unwrap()
    }

    /// `YYYY-MM-DDTHH:MM:SS(.fraction)Z`, with plausible fields.
    fn is_rfc3339(text: &str) -> bool {
        let b = text.as_bytes();
        let digits =
            |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
        let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(99);
        b.len() >= 20
            && digits(0..4)
            && b[4] == b'-'
            && digits(5..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'T'
            && digits(11..13)
            && b[13] == b':'
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && (1..=12).contains(&num(5..7))
            && (1..=31).contains(&num(8..10))
            && num(11..13) < 24
            && num(14..16) < 60
            && num(17..19) < 61
            && b[b.len() - 1] == b'Z'
    }

    #[tokio::test]
    async fn records_pass_lambdas_filter_at_every_log_level() {
        for configured in LEVELS {
            let (metrics, lines) = capture(Some(&configured.to_lowercase()));
            let _ = metrics
                .measure(Operation::Send, async { (Ok(()), Facts::default()) })
                .await;
            let line: Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
            assert!(passes(&line, configured), "{configured}: {line}");
        }
        let (metrics, lines) = capture(None);
        let _ = metrics
            .measure(Operation::Send, async { (Ok(()), Facts::default()) })
            .await;
        let line: Value = serde_json::from_str(&lines.lock().unwrap()[0]).unwrap();
        assert_eq!(line["level"], "INFO");
    }

    #[tokio::test]
    async fn only_the_first_invocation_is_a_cold_start_and_timings_stay_with_their_own() {
        let (metrics, lines) = capture(None);
        let slow = async {
            timed(
                Dependency::DynamoDb,
                tokio::time::sleep(Duration::from_millis(30)),
            )
            .await;
            (Ok(()), Facts::default())
        };
        let quick = async {
            timed(Dependency::Plivo, async {}).await;
            (Ok(()), Facts::default())
        };
        let _ = tokio::join!(
            metrics.measure(Operation::Send, slow),
            metrics.measure(Operation::Verify, quick)
        );
        let records: Vec<Value> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let cold: u64 = records
            .iter()
            .map(|r| r["ColdStart"].as_u64().unwrap())
            .sum();
        assert_eq!(cold, 1);
        let send = records.iter().find(|r| r["Operation"] == "Send").unwrap();
        let verify = records.iter().find(|r| r["Operation"] == "Verify").unwrap();
        assert!(send["DynamoDbLatency"].as_f64().unwrap() >= 30.0, "{send}");
        assert!(send.get("PlivoLatency").is_none(), "{send}");
        assert!(verify.get("DynamoDbLatency").is_none(), "{verify}");
        assert!(verify["PlivoLatency"].as_f64().is_some(), "{verify}");
    }
}
