//! `plivo-callback`: `POST /plivo/callback/status` behind API Gateway, where Plivo reports
//! the delivery of each code's SMS. Its own function, so its role holds only what a callback
//! needs (the Plivo auth token that signs them, and the delivery attributes of the table; never
//! `OTP_SECRET`) and a flood of callbacks never takes the concurrency of send and verify.
//! Deployed apart where calls are answered, with `OTP_SECRET`, for
//! `POST /plivo/callback/answer`.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::CallbackConfig;
use otp_shared::http;
use otp_shared::service::Callbacks;
use otp_shared::startup::Startup;

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Answers check the number called against the ticket's: the phone metadata loads at init.
    let start = Startup::begin().await?;
    let config: CallbackConfig = start.read()?;
    let store = start.callback_store(&config).await?;
    let app = Callbacks::new(config, store, Arc::new(SystemClock)).with_metrics(start.metrics()?);
    run(service_fn(|req| async {
        Ok::<_, Error>(http::plivo_callback(&app, req).await)
    }))
    .await
}
