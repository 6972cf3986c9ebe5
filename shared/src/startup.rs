//! The start every function shares, during Lambda's init: logs, the phone metadata, the
//! settings (secrets read by ARN), each settings group read and checked with its error
//! logged naming the variable, the metrics and the store. A main is wiring only.

use crate::config::{CallbackConfig, ConfigError, FromEnv, MetricsConfig, OtpConfig};
use crate::domain::PhoneNumber;
use crate::metrics::Metrics;
use crate::secrets::Settings;
use crate::store::DynamoDbStore;
use crate::telemetry;

/// A function's settings, read once at init.
pub struct Startup {
    settings: Settings,
}

/// Logs why init stops: the variable, never its value.
fn log(err: &ConfigError) {
    tracing::error!(variable = err.var, "{err}");
}

impl Startup {
    /// Starts the logs, begins loading the phone metadata, and reads the settings (secrets
    /// given by ARN included).
    pub async fn begin() -> Result<Self, ConfigError> {
        telemetry::init();
        PhoneNumber::preload_metadata();
        let settings = Settings::load().await.inspect_err(log)?;
        Ok(Self { settings })
    }

    /// One group of settings, read and checked.
    pub fn read<T: FromEnv>(&self) -> Result<T, ConfigError> {
        T::from_lookup(|k| self.settings.get(k)).inspect_err(log)
    }

    /// A check made at init beyond reading (a key parsed, say), logged like a setting.
    pub fn checked<T>(&self, result: Result<T, ConfigError>) -> Result<T, ConfigError> {
        result.inspect_err(log)
    }

    /// The metrics, written to standard output.
    pub fn metrics(&self) -> Result<Metrics, ConfigError> {
        Ok(Metrics::to_stdout(&self.read::<MetricsConfig>()?))
    }

    /// The store send-otp and verify-otp use.
    pub async fn otp_store(&self, config: &OtpConfig) -> anyhow::Result<DynamoDbStore> {
        DynamoDbStore::connect(&config.table_name, config.limits, config.init_warm_up).await
    }

    /// The store plivo-callback uses.
    pub async fn callback_store(&self, config: &CallbackConfig) -> anyhow::Result<DynamoDbStore> {
        DynamoDbStore::connect(&config.table_name, config.limits, config.init_warm_up).await
    }
}
