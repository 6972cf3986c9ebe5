//! Verifying a code: [`VerifyOtp`]. A guess is counted before it is compared (in the store's
//! one conditional write), and a guess from a caller whose failure budget is spent is never
//! judged at all.

use std::sync::Arc;

use super::core::Core;
use crate::clock::Clock;
use crate::config::OtpConfig;
use crate::domain::{Caller, CodeLength, CounterKind, OtpCode, PhoneNumber, Tripped};
use crate::error::OtpError;
use crate::metrics::Metrics;
use crate::store::{OtpStore, VerifyDecision};
use crate::token::TokenIssuer;

/// Everything `verify-otp` needs, built once per execution environment.
pub struct VerifyOtp<S> {
    pub(super) core: Core<S>,
    tokens: Option<TokenIssuer>,
}

impl<S: OtpStore> VerifyOtp<S> {
    pub fn new(config: OtpConfig, store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            core: Core::new(config, store, clock),
            tokens: None,
        }
    }

    /// Also answers a right code with a signed token, and publishes the keys that check it.
    pub fn with_tokens(mut self, tokens: Option<TokenIssuer>) -> Self {
        self.tokens = tokens;
        self
    }

    /// Records a metric per request (see [`Metrics`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.core.metrics = metrics;
        self
    }

    pub(crate) fn tokens(&self) -> Option<&TokenIssuer> {
        self.tokens.as_ref()
    }

    /// How many digits a code has, for parsing one.
    pub(crate) fn code_length(&self) -> CodeLength {
        self.core.config.code_length
    }

    /// Accepts the pending code for `phone` once. Every failure to match is the same
    /// [`OtpError::InvalidOtp`], except when attempts are used up.
    ///
    /// With a per-IP failure budget, each guess first reserves a unit of the caller's budget
    /// (so concurrent guesses can never exceed it) and a right guess returns it.
    pub async fn verify(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
        caller: &Caller,
    ) -> Result<(), OtpError> {
        let core = &self.core;
        let key = core.keys.phone_key(phone);
        let hash = core.keys.code_hash(&key, code);
        let now = core.clock.now();
        let d = &core.config.defences;
        let kinds = (CounterKind::IpFail, CounterKind::IpFail48);
        let per_ip = (
            d.max_failures_per_ip_per_hour,
            d.max_failures_per_ipv6_48_per_hour,
        );
        let budgets = core.ip_budgets(kinds, caller, per_ip, now);
        let reserved = match core.reserve(&budgets, now).await? {
            Ok(reserved) => reserved,
            Err((full, retry_after)) => {
                let limit = full.kind().limit();
                tracing::warn!(limit = limit.log_name(), "verify limit reached");
                return Err(OtpError::TooManyAttempts { retry_after, limit });
            }
        };
        // A failed guess spends the caller's failure budget; a right one, or one never
        // judged, does not.
        match core.store.verify(&key, &hash, now).await {
            Ok(VerifyDecision::Rejected) => {
                reserved.keep();
                Err(OtpError::InvalidOtp)
            }
            Ok(VerifyDecision::Exhausted { retry_after }) => {
                reserved.keep();
                Err(OtpError::TooManyAttempts {
                    retry_after,
                    limit: Tripped::Attempts,
                })
            }
            Ok(VerifyDecision::Verified) => {
                reserved.give_back().await;
                Ok(())
            }
            Err(e) => {
                reserved.give_back().await;
                Err(e.into())
            }
        }
    }

    /// Where its requests are recorded.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }
}
