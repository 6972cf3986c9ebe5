//! The AWS SDK configuration every client of the functions is built from (DynamoDB, and
//! Secrets Manager and SSM for secrets read at init).

use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

/// The roots AWS service certificates chain to (Amazon Trust Services).
const AMAZON_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services-roots.crt");

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

/// The standard AWS configuration chain (region and credentials from the Lambda environment,
/// `AWS_ENDPOINT_URL_<SERVICE>` when set, for local runs) with `timeouts`.
pub(crate) async fn sdk_config(timeouts: TimeoutConfig) -> Result<SdkConfig, anyhow::Error> {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client()?)
        .timeout_config(timeouts)
        // Request and response bodies are a few hundred bytes and every attempt has a
        // timeout, so the per-request throughput monitor only costs time.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .load()
        .await;
    Ok(config)
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
