//! The baseline plus one EMF record per invocation, built with serde_json and written to
//! standard output as the invocation ends: how otp-shared's metrics are written. The benchmark
//! measures it beside the two library-based writers (`emf-metrique`, `emf-metrics`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_http::{Error, Request, run, service_fn};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let warm = AtomicBool::new(false);
    let warm = &warm;
    run(service_fn(move |_: Request| async move {
        let start = Instant::now();
        let response = lambda_baseline::refused();
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
        let record = json!({
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": "Probe",
                    "Dimensions": [["Operation", "Outcome"]],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count"},
                        {"Name": "Latency", "Unit": "Milliseconds"},
                        {"Name": "ColdStart", "Unit": "Count"},
                    ],
                }],
            },
            "level": "INFO",
            "Operation": "Send",
            "Outcome": "InvalidRequest",
            "Requests": 1,
            "Latency": start.elapsed().as_secs_f64() * 1e3,
            "ColdStart": u8::from(!warm.swap(true, Ordering::Relaxed)),
        });
        let mut line = record.to_string();
        line.push('\n');
        let mut out = std::io::stdout().lock();
        out.write_all(line.as_bytes())?;
        out.flush()?;
        response
    }))
    .await
}
