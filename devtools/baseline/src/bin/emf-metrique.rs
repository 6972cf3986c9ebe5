//! The baseline plus one EMF record per invocation, written with awslabs' metrique through its
//! synchronous sink (`FlushImmediately`: its default background queue would write after Lambda
//! froze the environment). Measured by the benchmark beside `emf-serde`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use lambda_http::{Error, Request, run, service_fn};
use metrique::ServiceMetrics;
use metrique::emf::Emf;
use metrique::unit_of_work::metrics;
use metrique::writer::sink::FlushImmediately;
use metrique::writer::{AttachGlobalEntrySink, FormatExt, GlobalEntrySink};

#[metrics(emf::dimension_sets = [["Operation", "Outcome"]], rename_all = "PascalCase")]
struct RequestMetrics {
    #[metrics(timestamp)]
    timestamp: SystemTime,
    operation: &'static str,
    outcome: &'static str,
    requests: u64,
    latency: Duration,
    cold_start: u64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let sink = FlushImmediately::new_boxed(
        Emf::no_validations("Probe".to_owned(), vec![vec![]]).output_to(std::io::stdout()),
    );
    let _handle = ServiceMetrics::attach((sink, ()));
    let warm = AtomicBool::new(false);
    let warm = &warm;
    run(service_fn(move |_: Request| async move {
        let start = Instant::now();
        let mut record = RequestMetrics {
            timestamp: SystemTime::now(),
            operation: "Send",
            outcome: "InvalidRequest",
            requests: 1,
            latency: Duration::ZERO,
            cold_start: u64::from(!warm.swap(true, Ordering::Relaxed)),
        }
        .append_on_drop(ServiceMetrics::sink());
        let response = lambda_baseline::refused();
        record.latency = start.elapsed();
        drop(record);
        response
    }))
    .await
}
