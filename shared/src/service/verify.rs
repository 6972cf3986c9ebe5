//! Verifying a code: [`VerifyOtp`], by number or by verification id, and a verification's
//! status and cancelling. A guess is counted before it is compared (in the store's one
//! conditional write), and a guess from a caller whose failure budget is spent is never
//! judged at all.

use std::sync::Arc;

use super::core::{Core, Reservation};
use crate::clock::Clock;
use crate::config::OtpConfig;
use crate::domain::{
    Caller, Channel, CodeLength, CounterKind, Opened, OtpCode, PhoneKey, PhoneNumber, Tripped,
    VerificationDigest, VerificationId, VerificationStatus,
};
use crate::error::OtpError;
use crate::metrics::Metrics;
use crate::store::{Guessed, OtpStore, VerificationRecord, VerifyDecision};
use crate::token::TokenIssuer;

/// What a guess is for.
#[derive(Debug, Clone)]
pub enum Subject {
    /// The number's pending code, whichever verification it belongs to.
    Number(PhoneNumber),
    /// One verification's code; with `phone`, only if it was sent to that number.
    Verification {
        id: VerificationId,
        phone: Option<PhoneNumber>,
    },
}

/// A verification as its id's holder may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub status: VerificationStatus,
    pub channel: Channel,
    /// Guesses that will still be compared (0 unless pending).
    pub attempts_left: u64,
    /// Seconds until its code expires, while pending.
    pub expires_in: Option<u64>,
    /// The number it was sent to (printed masked).
    pub to: PhoneNumber,
}

impl Verification {
    fn new(opened: Opened, record: VerificationRecord, now: u64) -> Self {
        Self {
            status: record.status,
            channel: opened.channel,
            attempts_left: record.attempts_left,
            expires_in: record.expires_at.map(|at| at.saturating_sub(now)),
            to: opened.phone,
        }
    }
}

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

    /// Accepts the pending code of what `subject` names once, and answers the number it was
    /// sent to. Every failure to match is the same [`OtpError::InvalidOtp`], except when
    /// attempts are used up: an id this service did not issue, one for another number than
    /// the one named beside it, or one whose verification is over, reads as a wrong code.
    ///
    /// With a per-IP failure budget, each guess first reserves a unit of the caller's budget
    /// (so concurrent guesses can never exceed it) and a right guess returns it.
    pub async fn verify_by(
        &self,
        subject: &Subject,
        code: &OtpCode,
        caller: &Caller,
    ) -> Result<PhoneNumber, OtpError> {
        let core = &self.core;
        let now = core.clock.now();
        let (phone, digest) = self.resolve(subject, now)?;
        let key = core.keys.phone_key(&phone);
        let hash = core.keys.code_hash(&key, code);
        let guessed = digest
            .as_ref()
            .map_or(Guessed::Number, Guessed::Verification);
        let reserved = self.reserve_guess(caller, now).await?;
        // A failed guess spends the caller's failure budget; a right one, or one never
        // judged, does not.
        match core.store.verify(&key, guessed, &hash, now).await {
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
                Ok(phone)
            }
            Err(e) => {
                reserved.give_back().await;
                Err(e.into())
            }
        }
    }

    /// [`verify_by`](Self::verify_by) the number's pending code.
    pub async fn verify(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
        caller: &Caller,
    ) -> Result<(), OtpError> {
        let subject = Subject::Number(phone.clone());
        self.verify_by(&subject, code, caller).await.map(drop)
    }

    /// The number a guess is for, and its verification's digest when it names one. An id
    /// that does not open (or names another number than the one beside it) costs no request.
    fn resolve(
        &self,
        subject: &Subject,
        now: u64,
    ) -> Result<(PhoneNumber, Option<VerificationDigest>), OtpError> {
        match subject {
            Subject::Number(_) if self.core.config.defences.require_verification_id => Err(
                OtpError::InvalidRequest("verificationId is required".to_owned()),
            ),
            Subject::Number(phone) => Ok((phone.clone(), None)),
            Subject::Verification { id, phone } => {
                let opened = self.open(id, now).ok_or(OtpError::InvalidOtp)?;
                if phone.as_ref().is_some_and(|p| *p != opened.phone) {
                    return Err(OtpError::InvalidOtp);
                }
                Ok((opened.phone, Some(opened.digest)))
            }
        }
    }

    /// Reserves a unit of the caller's failure budgets (per IP, per IPv6 /48).
    async fn reserve_guess(
        &self,
        caller: &Caller,
        now: u64,
    ) -> Result<Reservation<'_, S>, OtpError> {
        let core = &self.core;
        let d = &core.config.defences;
        let kinds = (CounterKind::IpFail, CounterKind::IpFail48);
        let per_ip = (
            d.max_failures_per_ip_per_hour,
            d.max_failures_per_ipv6_48_per_hour,
        );
        let budgets = core.ip_budgets(kinds, caller, per_ip, now);
        match core.reserve(&budgets, now).await? {
            Ok(reserved) => Ok(reserved),
            Err((full, retry_after)) => {
                let limit = full.kind().limit();
                tracing::warn!(limit = limit.log_name(), "verify limit reached");
                Err(OtpError::TooManyAttempts { retry_after, limit })
            }
        }
    }

    /// What `id` names and its number's key; [`OtpError::NotFound`] for an id this service
    /// did not issue or whose retention is over, before any request.
    fn locate(&self, id: &VerificationId, now: u64) -> Result<(Opened, PhoneKey), OtpError> {
        let opened = self.open(id, now).ok_or(OtpError::NotFound)?;
        let key = self.core.keys.phone_key(&opened.phone);
        Ok((opened, key))
    }

    fn open(&self, id: &VerificationId, now: u64) -> Option<Opened> {
        let retention = self.core.config.limits.verification_retention;
        self.core.keys.verifications().open(id, now, retention)
    }

    /// How the verification `id` names stands (404 as [`locate`](Self::locate) says, or
    /// when the item shows the id is not one of its own). One strongly consistent read.
    pub async fn status(&self, id: &VerificationId) -> Result<Verification, OtpError> {
        let now = self.core.clock.now();
        let (opened, key) = self.locate(id, now)?;
        let record = self
            .core
            .store
            .verification(&key, &opened.digest, opened.issued_at, now);
        let record = record.await?.ok_or(OtpError::NotFound)?;
        Ok(Verification::new(opened, record, now))
    }

    /// Ends the verification `id` names if it is pending (its code never verifies
    /// afterwards), and answers how it stands. One conditional write (two for one a newer
    /// code replaced: that send may yet fail and bring it back, so it is marked cancelled).
    pub async fn cancel(&self, id: &VerificationId) -> Result<Verification, OtpError> {
        let now = self.core.clock.now();
        let (opened, key) = self.locate(id, now)?;
        let record = self
            .core
            .store
            .cancel(&key, &opened.digest, opened.issued_at, now);
        let record = record.await?.ok_or(OtpError::NotFound)?;
        if record.status == VerificationStatus::Canceled {
            tracing::info!(phone = %opened.phone, "verification canceled");
        }
        Ok(Verification::new(opened, record, now))
    }

    /// Where its requests are recorded.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }
}
