//! `verify-otp`: `POST /auth/verify-otp` behind API Gateway; with a token signing key, also
//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use otp_shared::clock::SystemClock;
use otp_shared::config::{OtpConfig, TokenConfig};
use otp_shared::http;
use otp_shared::service::VerifyOtp;
use otp_shared::startup::Startup;
use otp_shared::token::TokenIssuer;

// One invocation at a time, so a single-threaded runtime: see docs/performance.md.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let start = Startup::begin().await?;
    let config: OtpConfig = start.read()?;
    let tokens = start.read::<Option<TokenConfig>>()?;
    let tokens = tokens.map(|c| TokenIssuer::new(c, Arc::new(SystemClock)));
    let store = start.otp_store(&config).await?;
    let app = VerifyOtp::new(config, store, Arc::new(SystemClock))
        .with_tokens(start.checked(tokens.transpose())?)
        .with_metrics(start.metrics()?);
    run(service_fn(|req| async {
        Ok::<_, Error>(http::verify_otp(&app, req).await)
    }))
    .await
}
