//! `send-otp`: `POST /auth/send-otp` behind API Gateway: a code by SMS, or by voice call.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::{
    ConfigError, FromEnv, OtpConfig, PlivoConfig, VoiceConfig, messages_from_lookup,
};
use otp_shared::domain::PhoneNumber;
use otp_shared::metrics::Metrics;
use otp_shared::secrets::Settings;
use otp_shared::service::SendOtp;
use otp_shared::sms::{PlivoSmsSender, RetryPolicy};
use otp_shared::store::DynamoDbStore;
use otp_shared::{http, telemetry};

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    PhoneNumber::preload_metadata();
    let log = |e: &ConfigError| tracing::error!(variable = e.var, "{e}");
    let settings = Settings::load().await.inspect_err(log)?;
    let config = OtpConfig::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let plivo = PlivoConfig::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let messages = messages_from_lookup(|k| settings.get(k), &config).inspect_err(log)?;
    let voice = Option::<VoiceConfig>::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let sms = PlivoSmsSender::new(&plivo, RetryPolicy::default())?;
    let store = DynamoDbStore::connect(&config).await?;
    let app = SendOtp::new(config, store, sms, Arc::new(SystemClock))
        .with_messages(messages)
        .with_voice(voice)
        .with_metrics(Metrics::from_env());
    run(service_fn(|req| async {
        Ok::<_, Error>(http::send_otp(&app, req).await)
    }))
    .await
}
