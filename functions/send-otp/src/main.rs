//! `send-otp`: `POST /auth/send-otp` behind API Gateway: a code by SMS, or by voice call.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::{OtpConfig, PlivoConfig};
use otp_shared::http;
use otp_shared::service::SendOtp;
use otp_shared::sms::{PlivoSmsSender, RetryPolicy};
use otp_shared::startup::Startup;

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let start = Startup::begin().await?;
    let config: OtpConfig = start.read()?;
    let plivo: PlivoConfig = start.read()?;
    let sms = PlivoSmsSender::new(&plivo, RetryPolicy::default())?;
    let store = start.otp_store(&config).await?;
    let app = SendOtp::new(config, store, sms, Arc::new(SystemClock))
        .with_messages(start.read()?)
        .with_voice(plivo.voice())
        .with_metrics(start.metrics()?);
    run(service_fn(|req| async {
        Ok::<_, Error>(http::send_otp(&app, req).await)
    }))
    .await
}
