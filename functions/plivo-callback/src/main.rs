//! `plivo-callback`: `POST /plivo/callback/status` behind API Gateway, where Plivo reports
//! the delivery of each code's SMS. Its own function, so its role holds only what a callback
//! needs (the Plivo auth token that signs them, and the table) and a flood of callbacks never
//! takes the concurrency of send and verify.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::{CallbackConfig, ConfigError, FromEnv, OtpConfig};
use otp_shared::metrics::Metrics;
use otp_shared::secrets::Settings;
use otp_shared::service::Callbacks;
use otp_shared::store::DynamoDbStore;
use otp_shared::{http, telemetry};

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let log = |e: &ConfigError| tracing::error!(variable = e.var, "{e}");
    let settings = Settings::load().await.inspect_err(log)?;
    let config = OtpConfig::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let callback = CallbackConfig::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let store = DynamoDbStore::connect(&config).await?;
    let app = Callbacks::new(&config, callback, store, Arc::new(SystemClock))
        .inspect_err(log)?
        .with_metrics(Metrics::from_env());
    run(service_fn(|req| async {
        Ok::<_, Error>(http::plivo_callback(&app, req).await)
    }))
    .await
}
