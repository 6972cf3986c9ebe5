//! Where the metrics go: their CloudWatch namespace, and the log level Lambda filters by.

use super::ConfigError;
use super::env::{Env, FromEnv};

/// Where metrics go unless `OTP_METRICS_NAMESPACE` says otherwise.
pub(crate) const DEFAULT_NAMESPACE: &str = "OtpLambda";

/// The metrics' settings, which every function reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// `OTP_METRICS_NAMESPACE`.
    pub(crate) namespace: String,
    /// `AWS_LAMBDA_LOG_LEVEL`, which Lambda sets from the function's application log level.
    pub(crate) log_level: Option<String>,
}

impl FromEnv for MetricsConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            namespace: env
                .optional("OTP_METRICS_NAMESPACE")
                .map_or_else(|| DEFAULT_NAMESPACE.to_owned(), |n| n.trim().to_owned()),
            log_level: env.optional("AWS_LAMBDA_LOG_LEVEL"),
        })
    }
}
