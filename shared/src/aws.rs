//! AWS SDK clients, built once per execution environment.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;

/// Time allowed for one DynamoDB request attempt, and for an operation with its retries.
pub const DYNAMODB_ATTEMPT_TIMEOUT: Duration = Duration::from_millis(1500);
pub const DYNAMODB_OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

/// The timeouts every DynamoDB client of the service uses, so a slow or unreachable
/// DynamoDB becomes a bounded 503 instead of a hung invocation.
pub fn dynamodb_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(DYNAMODB_ATTEMPT_TIMEOUT)
        .operation_timeout(DYNAMODB_OPERATION_TIMEOUT)
        .build()
}

/// A DynamoDB client from the standard AWS configuration chain: region and credentials from
/// the Lambda environment, and `AWS_ENDPOINT_URL_DYNAMODB` when set (local runs).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(dynamodb_timeouts())
        // Request and response bodies are a few hundred bytes and every attempt has a
        // timeout, so the per-request throughput monitor only costs time.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// One eventually consistent `GetItem` of a key that never exists: it opens the connection
/// (TLS included) while Lambda's init phase runs, instead of on the first request. A failure
/// is logged, not fatal: the first request will try again and report properly.
pub async fn warm_up(client: &aws_sdk_dynamodb::Client, table: &str) {
    use aws_sdk_dynamodb::types::AttributeValue;
    let result = client
        .get_item()
        .table_name(table)
        .key(
            crate::store::PARTITION_KEY,
            AttributeValue::S("warm-up".to_owned()),
        )
        .projection_expression(crate::store::PARTITION_KEY)
        .send()
        .await;
    if let Err(e) = result {
        tracing::warn!(
            error.message = %aws_sdk_dynamodb::error::DisplayErrorContext(&e),
            "dynamodb warm-up failed"
        );
    }
}
