//! `plivo-callback`: `POST /plivo/callback/status` behind API Gateway, where Plivo reports
//! the delivery of each code's SMS. Its own function, so its role holds only what a callback
//! needs (the Plivo auth token that signs them, and the delivery attributes of the table; never
//! `OTP_SECRET`) and a flood of callbacks never takes the concurrency of send and verify.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::{CallbackConfig, ConfigError, FromEnv};
use otp_shared::domain::PhoneNumber;
use otp_shared::metrics::Metrics;
use otp_shared::secrets::Settings;
use otp_shared::service::Callbacks;
use otp_shared::store::DynamoDbStore;
use otp_shared::{http, telemetry};

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    // Answers check the number called against the ticket's.
    PhoneNumber::preload_metadata();
    let log = |e: &ConfigError| tracing::error!(variable = e.var, "{e}");
    let settings = Settings::load().await.inspect_err(log)?;
    let config = CallbackConfig::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let (table, warm_up) = (&config.table_name, config.init_warm_up);
    let store = DynamoDbStore::connect_to(table, config.limits, warm_up).await?;
    let app =
        Callbacks::new(config, store, Arc::new(SystemClock)).with_metrics(Metrics::from_env());
    run(service_fn(|req| async {
        Ok::<_, Error>(http::plivo_callback(&app, req).await)
    }))
    .await
}
