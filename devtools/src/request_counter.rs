//! Counts the DynamoDB requests a client sends, by operation, through an SDK interceptor.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

/// Shared counts of requests sent (retries included), keyed by operation name (`UpdateItem`).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, usize>>>);

impl RequestCounter {
    /// Total requests sent so far.
    pub fn total(&self) -> usize {
        self.0.lock().expect("not poisoned").values().sum()
    }

    /// Requests per operation so far.
    pub fn by_operation(&self) -> BTreeMap<String, usize> {
        self.0.lock().expect("not poisoned").clone()
    }

    pub fn reset(&self) {
        self.0.lock().expect("not poisoned").clear();
    }

    /// `client` with this counter attached.
    pub fn attach(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        let config = client
            .config()
            .to_builder()
            .interceptor(self.clone())
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = context
            .request()
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit('.').next())
            .unwrap_or("unknown")
            .to_owned();
        *self
            .0
            .lock()
            .expect("not poisoned")
            .entry(operation)
            .or_default() += 1;
        Ok(())
    }
}
