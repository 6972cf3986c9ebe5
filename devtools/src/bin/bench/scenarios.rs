//! The world the functions run in during the benchmark: dynalite behind a counting proxy, the
//! Plivo sandbox, the deployed defaults, and the events they are sent.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use otp_devtools::apigw::{call, http_api_event};
use otp_devtools::dynalite::{Dynalite, local_client};
use otp_devtools::dynamodb_proxy::DynamoDbProxy;
use otp_devtools::lambda::{LocalFunction, Output};
use otp_devtools::plivo_sandbox::PlivoSandbox;
use otp_devtools::runtime_api::RuntimeApi;
use otp_devtools::{rsa_signing_key, table};
use serde_json::Value;

use crate::probes::{expect, invoke};

pub(crate) const TABLE: &str = "otp-bench";

pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// Numbers that no run uses twice: +1 415 55x xxxx.
pub(crate) struct Numbers(pub(crate) u32);

impl Numbers {
    pub(crate) fn next(&mut self) -> String {
        self.0 += 1;
        format!("+1415{:07}", 5_500_000 + self.0)
    }
}

pub(crate) fn event(path: &str, body: &str) -> Value {
    http_api_event("POST", path, body, "192.0.2.10")
}

pub(crate) fn send_event(phone: &str) -> Value {
    event("/auth/send-otp", &format!(r#"{{"phoneNumber":"{phone}"}}"#))
}

pub(crate) fn verify_event(phone: &str, otp: &str) -> Value {
    event(
        "/auth/verify-otp",
        &format!(r#"{{"phoneNumber":"{phone}","otp":"{otp}"}}"#),
    )
}

pub(crate) fn verify_by_id_event(id: &str, otp: &str) -> Value {
    event(
        "/auth/verify-otp",
        &format!(r#"{{"verificationId":"{id}","otp":"{otp}"}}"#),
    )
}

/// A verification's status (`GET`) or cancel (`POST`), with no body.
pub(crate) fn verification_event(method: &str, path: &str) -> Value {
    http_api_event(method, path, "", "192.0.2.10")
}

pub(crate) fn malformed_event() -> Value {
    event("/", "{")
}

pub(crate) struct Setup {
    pub(crate) env: Vec<(&'static str, String)>,
    pub(crate) proxy: DynamoDbProxy,
    pub(crate) plivo: PlivoSandbox,
    pub(crate) _dynalite: Dynalite,
}

impl Setup {
    pub(crate) fn last_code(&self) -> anyhow::Result<String> {
        let messages = self.plivo.messages();
        let text = messages
            .last()
            .and_then(|m| m["text"].as_str())
            .context("no sms")?;
        Ok(text
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() == 6)
            .context("no code")?
            .to_owned())
    }
}

pub(crate) async fn setup() -> anyhow::Result<Setup> {
    let dynalite = Dynalite::start(0, None)?;
    table::create_table(&local_client(&dynalite.endpoint()), TABLE).await?;
    let proxy = DynamoDbProxy::start(&dynalite.endpoint()).await?;
    let plivo = PlivoSandbox::start(SocketAddr::from(([127, 0, 0, 1], 0)), false).await?;
    let mut env = vec![
        ("OTP_TABLE_NAME", TABLE.to_owned()),
        (
            "OTP_SECRET",
            "bench-secret-bench-secret-bench-secret".to_owned(),
        ),
        ("AWS_ENDPOINT_URL_DYNAMODB", proxy.endpoint()),
        // The deployed defaults: an allow-list, and the per-minute SMS budget on (sharded),
        // raised so the run is not refused.
        ("OTP_ALLOWED_COUNTRIES", "US,CA,GB,DE,FR".to_owned()),
        ("OTP_MAX_SENDS_PER_MINUTE", "1000000".to_owned()),
        // Every invocation comes from one address; the per-IP limits would stop the run.
        ("OTP_MAX_SENDS_PER_IP_PER_HOUR", "0".to_owned()),
        ("OTP_MAX_FAILURES_PER_IP_PER_HOUR", "0".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        (
            "AWS_LAMBDA_LOG_LEVEL",
            std::env::var("BENCH_LOG_LEVEL").unwrap_or_else(|_| "INFO".to_owned()),
        ),
    ];
    env.extend(plivo.function_env());
    Ok(Setup {
        env,
        proxy,
        plivo,
        _dynalite: dynalite,
    })
}

/// A function process whose output is discarded, as Lambda ships it away through a pipe.
pub(crate) async fn quiet(
    binary: &Path,
    name: &str,
    env: &[(&str, String)],
) -> anyhow::Result<LocalFunction> {
    LocalFunction::start_with_output(binary, name, env, TIMEOUT, Output::Discard).await
}

/// Sends a code to a new number through `send`; returns the number and the code.
pub(crate) async fn sent_code(
    send: &RuntimeApi,
    setup: &Setup,
    numbers: &mut Numbers,
) -> anyhow::Result<(String, String)> {
    let phone = numbers.next();
    expect(invoke(send, send_event(&phone)).await?, 200, "send")?;
    Ok((phone, setup.last_code()?))
}

/// Sends a code to a new number through `send`; returns the verification's id and the code.
pub(crate) async fn sent_id(
    send: &RuntimeApi,
    setup: &Setup,
    numbers: &mut Numbers,
) -> anyhow::Result<(String, String)> {
    let response = call(send, send_event(&numbers.next())).await?;
    expect(response.status.into(), 200, "send")?;
    let id = response.body["verificationId"]
        .as_str()
        .context("no verificationId")?;
    Ok((id.to_owned(), setup.last_code()?))
}

/// A fresh 2048-bit RSA signing key and the settings that turn tokens on.
pub(crate) fn token_env() -> anyhow::Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("OTP_TOKEN_SIGNING_KEY", rsa_signing_key()?),
        ("OTP_TOKEN_ISSUER", "https://otp.example.com".to_owned()),
        ("OTP_TOKEN_AUDIENCE", "bench".to_owned()),
    ])
}
