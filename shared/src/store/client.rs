//! The DynamoDB client, built once per execution environment.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

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

/// A DynamoDB client from the standard AWS configuration chain: region and credentials from
/// the Lambda environment, and `AWS_ENDPOINT_URL_DYNAMODB` when set (local runs).
pub(super) async fn dynamodb_client() -> Result<aws_sdk_dynamodb::Client, anyhow::Error> {
    Ok(aws_sdk_dynamodb::Client::new(
        &crate::aws::sdk_config(dynamodb_timeouts()).await?,
    ))
}
