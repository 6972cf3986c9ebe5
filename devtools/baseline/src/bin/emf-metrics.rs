//! The baseline plus one EMF record per invocation, written with the `metrics` facade and
//! `metrics_cloudwatch_embedded`, flushed to standard output as the invocation ends. Measured by
//! the benchmark beside `emf-serde`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let collector = metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace("Probe")
        .init()
        .map_err(|e| Error::from(e.to_string()))?;
    metrics::describe_histogram!("Latency", metrics::Unit::Milliseconds, "handler time");
    let warm = AtomicBool::new(false);
    let warm = &warm;
    run(service_fn(move |_: Request| async move {
        let start = Instant::now();
        let response = lambda_baseline::refused();
        let labels = [("Operation", "Send"), ("Outcome", "InvalidRequest")];
        metrics::counter!("Requests", &labels).increment(1);
        metrics::counter!("ColdStart", &labels)
            .increment(u64::from(!warm.swap(true, Ordering::Relaxed)));
        metrics::histogram!("Latency", &labels).record(start.elapsed().as_secs_f64() * 1e3);
        collector
            .set_property("level", "INFO")
            .flush(std::io::stdout())?;
        response
    }))
    .await
}
