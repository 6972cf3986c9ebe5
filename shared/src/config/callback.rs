//! What the plivo-callback function reads.

use secrecy::SecretString;

use super::ConfigError;
use super::env::{Env, FromEnv, problem};
use crate::domain::Limits;

/// What the Plivo callback function reads: the table, the auth token that signs Plivo's
/// requests, and the public URL they are signed over. `OTP_SECRET` only where it answers
/// calls: the deployment that records delivery reports never holds it.
#[derive(Debug)]
pub struct CallbackConfig {
    pub(crate) table_name: String,
    pub(crate) auth_token: SecretString,
    /// `OTP_PUBLIC_BASE_URL`, required here.
    pub(crate) public_base_url: String,
    pub(crate) init_warm_up: bool,
    /// The per-number limits the store is built with (no receipt write depends on them).
    pub(crate) limits: Limits,
    /// `OTP_SECRET`, only where calls are answered (the template's PlivoAnswerFunction): it
    /// opens the sealed answer tickets.
    pub(crate) secret: Option<SecretString>,
}

impl FromEnv for CallbackConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            table_name: env.required("OTP_TABLE_NAME")?,
            auth_token: SecretString::from(env.required("PLIVO_AUTH_TOKEN")?),
            public_base_url: env
                .public_base_url()?
                .ok_or_else(|| problem("OTP_PUBLIC_BASE_URL", "is required but not set"))?,
            init_warm_up: env.flag("OTP_INIT_WARMUP", true)?,
            limits: env.limits()?,
            secret: env.optional("OTP_SECRET").map(SecretString::from),
        })
    }
}
