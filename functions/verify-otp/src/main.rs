//! `verify-otp`: `POST /auth/verify-otp` behind API Gateway; with a token signing key, also
//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::{ConfigError, FromEnv, OtpConfig, TokenConfig};
use otp_shared::domain::PhoneNumber;
use otp_shared::metrics::Metrics;
use otp_shared::secrets::Settings;
use otp_shared::service::VerifyOtp;
use otp_shared::store::DynamoDbStore;
use otp_shared::token::TokenIssuer;
use otp_shared::{http, telemetry};

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::init();
    PhoneNumber::preload_metadata();
    let log = |e: &ConfigError| tracing::error!(variable = e.var, "{e}");
    let settings = Settings::load().await.inspect_err(log)?;
    let config = OtpConfig::from_lookup(|k| settings.get(k)).inspect_err(log)?;
    let tokens = Option::<TokenConfig>::from_lookup(|k| settings.get(k))
        .and_then(|c| {
            c.map(|c| TokenIssuer::new(c, Arc::new(SystemClock)))
                .transpose()
        })
        .inspect_err(log)?;
    let store = DynamoDbStore::connect(&config).await?;
    let mut app =
        VerifyOtp::new(config, store, Arc::new(SystemClock)).with_metrics(Metrics::from_env());
    if let Some(tokens) = tokens {
        app = app.with_tokens(tokens);
    }
    run(service_fn(|req| async {
        Ok::<_, Error>(http::verify_otp(&app, req).await)
    }))
    .await
}
