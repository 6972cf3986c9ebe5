//! Configuration from the environment, read and checked once when a function starts: one
//! group of settings per file, each read through the one reader in [`env`]. Nothing else in
//! the crate reads the environment.

mod callback;
mod env;
mod messages;
mod metrics;
mod otp;
mod plivo;
mod token;

pub use callback::CallbackConfig;
pub(crate) use env::problem;
pub use env::{ConfigError, FromEnv};
pub use metrics::MetricsConfig;
pub use otp::OtpConfig;
pub(crate) use plivo::PlivoLog;
pub use plivo::{PlivoConfig, VoiceConfig};
pub use token::TokenConfig;

#[cfg(test)]
mod tests;
