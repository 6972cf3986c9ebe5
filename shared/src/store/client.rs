//! The DynamoDB client, built once per execution environment.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// Time allowed for one DynamoDB request attempt, and for an operation with its retries.
const DYNAMODB_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
const DYNAMODB_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// The timeouts every DynamoDB client of the service uses, so a slow or unreachable
/// DynamoDB becomes a bounded 503 instead of a hung invocation.
pub fn dynamodb_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(DYNAMODB_ATTEMPT_TIMEOUT)
        .operation_timeout(DYNAMODB_OPERATION_TIMEOUT)
        .build()
}

/// The roots AWS service certificates chain to (Amazon Trust Services).
const AMAZON_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services-roots.crt");

/// The SDK's HTTPS client trusting only Amazon's roots. The default client parses every
/// certificate in the system store on its first connection, a few milliseconds on the cold
/// path for roots no AWS endpoint uses.
fn https_client() -> Result<aws_sdk_dynamodb::config::SharedHttpClient, anyhow::Error> {
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AMAZON_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust).build()?;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https())
}

/// A DynamoDB client from the standard AWS configuration chain: region and credentials from
/// the Lambda environment, and `AWS_ENDPOINT_URL_DYNAMODB` when set (local runs).
pub(super) async fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, anyhow::Error> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client()?)
        .timeout_config(dynamodb_timeouts())
        // Request and response bodies are a few hundred bytes and every attempt has a
        // timeout, so the per-request throughput monitor only costs time.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .load()
        .await;
    Ok(aws_sdk_dynamodb::Client::new(&config))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bundled_amazon_roots_parse() {
        assert!(super::https_client().is_ok());
        let text = std::str::from_utf8(super::AMAZON_ROOTS).unwrap();
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    }
}
