//! The two use cases: send a code, verify a code. No HTTP here.

use std::sync::Arc;

use secrecy::SecretString;

use crate::clock::Clock;
use crate::config::OtpConfig;
use crate::domain::{OtpCode, PhoneNumber};
use crate::error::OtpError;
use crate::hashing::Hasher;
use crate::otp::generate_code;
use crate::sms::PlivoSmsSender;
use crate::store::{DynamoDbOtpStore, Limits, SendDecision, VerifyDecision};

/// Everything `send-otp` needs, built once per execution environment.
pub struct SendOtp {
    config: OtpConfig,
    hasher: Hasher,
    store: DynamoDbOtpStore,
    sms: PlivoSmsSender,
    clock: Arc<dyn Clock>,
}

/// A code is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

impl SendOtp {
    pub fn new(
        config: OtpConfig,
        dynamodb: aws_sdk_dynamodb::Client,
        sms: PlivoSmsSender,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            hasher: Hasher::new(&config.secret),
            store: DynamoDbOtpStore::new(
                dynamodb,
                &config.table_name,
                Limits::from_config(&config),
            ),
            config,
            sms,
            clock,
        }
    }

    pub fn config(&self) -> &OtpConfig {
        &self.config
    }

    /// Stores the hash of a fresh code, then sends the code. The write comes first so every
    /// delivered code can be verified; if the SMS finally fails, the stored code is voided.
    pub async fn send(&self, phone: &PhoneNumber) -> Result<Sent, OtpError> {
        let key = self.hasher.phone_key(phone);
        let code = generate_code(self.config.code_length);
        let hash = self.hasher.code_hash(&key, &code);
        let now = self.clock.now();
        match self.store.store_code(&key, &hash, now).await? {
            SendDecision::Stored => {}
            SendDecision::RateLimited { retry_after } => {
                return Err(OtpError::RateLimited { retry_after });
            }
        }
        let text = SecretString::from(self.config.render_message(code.expose()));
        drop(code);
        if let Err(sms_error) = self.sms.send(phone, &text).await {
            match self.store.void_code(&key, &hash).await {
                Ok(_) => {}
                Err(e) => tracing::error!(
                    error.message = %e,
                    "could not void a code whose sms failed; it expires on its own"
                ),
            }
            return Err(OtpError::SmsFailed(sms_error));
        }
        Ok(Sent {
            expires_in: self.config.expiry.as_secs(),
        })
    }
}

/// Everything `verify-otp` needs, built once per execution environment.
pub struct VerifyOtp {
    config: OtpConfig,
    hasher: Hasher,
    store: DynamoDbOtpStore,
    clock: Arc<dyn Clock>,
}

impl VerifyOtp {
    pub fn new(
        config: OtpConfig,
        dynamodb: aws_sdk_dynamodb::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            hasher: Hasher::new(&config.secret),
            store: DynamoDbOtpStore::new(
                dynamodb,
                &config.table_name,
                Limits::from_config(&config),
            ),
            config,
            clock,
        }
    }

    pub fn config(&self) -> &OtpConfig {
        &self.config
    }

    /// Accepts the pending code for `phone` once. Every failure to match is the same
    /// [`OtpError::InvalidOtp`], except when the attempts are used up.
    pub async fn verify(&self, phone: &PhoneNumber, code: &OtpCode) -> Result<(), OtpError> {
        let key = self.hasher.phone_key(phone);
        let hash = self.hasher.code_hash(&key, code);
        match self.store.verify(&key, &hash, self.clock.now()).await? {
            VerifyDecision::Verified => Ok(()),
            VerifyDecision::Rejected => Err(OtpError::InvalidOtp),
            VerifyDecision::Exhausted { retry_after } => {
                Err(OtpError::TooManyAttempts { retry_after })
            }
        }
    }
}
