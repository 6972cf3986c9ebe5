//! The two use cases: send a code, verify a code. No HTTP here.

use std::sync::Arc;

use secrecy::SecretString;

use crate::clock::Clock;
use crate::config::{Defences, Limit, OtpConfig};
use crate::domain::{ClientIp, OtpCode, PhoneNumber};
use crate::error::OtpError;
use crate::hashing::Hasher;
use crate::otp::generate_code;
use crate::sms::PlivoSmsSender;
use crate::store::{Counter, DynamoDbOtpStore, Limits, SendDecision, VerifyDecision};

const HOUR: u64 = 3600;
const MINUTE: u64 = 60;

/// Who is asking: what API Gateway knows of the caller.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller {
    pub ip: Option<ClientIp>,
}

/// The parts both functions share: configuration, hashing, the store and the clock.
struct Core {
    config: OtpConfig,
    hasher: Hasher,
    store: DynamoDbOtpStore,
    clock: Arc<dyn Clock>,
}

impl Core {
    fn new(config: OtpConfig, dynamodb: aws_sdk_dynamodb::Client, clock: Arc<dyn Clock>) -> Self {
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

    fn defences(&self) -> &Defences {
        &self.config.defences
    }

    /// The per-IP counter of `kind` for the caller, when the limit is on and the IP known.
    fn ip_counter(&self, kind: &str, caller: &Caller, limit: Limit, now: u64) -> Option<Counter> {
        let ip = caller.ip?;
        (limit != Limit::Off).then(|| {
            Counter::new(
                kind,
                &self.hasher.counter_subject(kind, &ip.subject()),
                HOUR,
                now,
            )
        })
    }

    /// Returns units taken for a request that stopped before sending. A failure here only
    /// makes a limit stricter for the rest of its bucket, so it is logged, not returned.
    async fn give_back(&self, counters: &[Counter]) {
        for counter in counters {
            if let Err(e) = self.store.give_back(counter).await {
                tracing::warn!(error.message = %e, "could not return a counter unit");
            }
        }
    }
}

/// A counter a send takes a unit from, with its limit and what to log when it trips.
struct SendCounter {
    counter: Counter,
    limit: Limit,
    name: &'static str,
    /// The number range, for the range counter.
    prefix: Option<String>,
}

/// Everything `send-otp` needs, built once per execution environment.
pub struct SendOtp {
    core: Core,
    sms: PlivoSmsSender,
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
            core: Core::new(config, dynamodb, clock),
            sms,
        }
    }

    pub fn config(&self) -> &OtpConfig {
        &self.core.config
    }

    /// Refuses destinations outside the allowed regions and line types.
    fn screen(&self, phone: &PhoneNumber) -> Result<(), OtpError> {
        let defences = self.core.defences();
        if let Some(allowed) = &defences.allowed_countries
            && !phone.country().is_some_and(|c| allowed.contains(&c))
        {
            tracing::info!(country = ?phone.country(), "destination country not allowed");
            return Err(OtpError::CountryNotAllowed);
        }
        if !defences.allowed_number_types.contains(&phone.number_type()) {
            tracing::info!(
                number_type = phone.number_type().as_str(),
                "number type not allowed"
            );
            return Err(OtpError::NumberTypeNotAllowed);
        }
        Ok(())
    }

    /// The counters a send must take a unit from, each with its limit: the deployment-wide
    /// budget per minute, the caller's IP per hour and the number's range per hour. Only
    /// those switched on.
    fn send_counters(&self, phone: &PhoneNumber, caller: &Caller, now: u64) -> Vec<SendCounter> {
        let d = self.core.defences();
        let mut counters = Vec::new();
        if d.max_sends_per_minute != Limit::Off {
            counters.push(SendCounter {
                counter: Counter::new("global", "sends", MINUTE, now),
                limit: d.max_sends_per_minute,
                name: "global sends per minute",
                prefix: None,
            });
        }
        let ip_limit = d.max_sends_per_ip_per_hour;
        if let Some(counter) = self.core.ip_counter("ip-send", caller, ip_limit, now) {
            counters.push(SendCounter {
                counter,
                limit: ip_limit,
                name: "sends per client ip per hour",
                prefix: None,
            });
        }
        if d.max_sends_per_prefix_per_hour != Limit::Off {
            let prefix = phone.prefix(d.prefix_digits);
            let subject = self.core.hasher.counter_subject("prefix", &prefix);
            counters.push(SendCounter {
                counter: Counter::new("prefix", &subject, HOUR, now),
                limit: d.max_sends_per_prefix_per_hour,
                name: "sends per number prefix per hour",
                prefix: Some(prefix),
            });
        }
        counters
    }

    /// Stores the hash of a fresh code, then sends the code. The write comes first so every
    /// delivered code can be verified; if the SMS finally fails, the stored code is voided.
    pub async fn send(&self, phone: &PhoneNumber, caller: &Caller) -> Result<Sent, OtpError> {
        self.screen(phone)?;
        let core = &self.core;
        let key = core.hasher.phone_key(phone);
        let code = generate_code(core.config.code_length);
        let hash = core.hasher.code_hash(&key, &code);
        let now = core.clock.now();

        let mut taken = Vec::new();
        for c in self.send_counters(phone, caller, now) {
            match core.store.take(&c.counter, c.limit, now).await {
                Ok(None) => taken.push(c.counter),
                Ok(Some(retry_after)) => {
                    core.give_back(&taken).await;
                    // The range (never the number) tells an operator where pumping aims.
                    tracing::warn!(limit = c.name, prefix = c.prefix, "send limit reached");
                    return Err(OtpError::RateLimited { retry_after });
                }
                Err(e) => {
                    core.give_back(&taken).await;
                    return Err(e.into());
                }
            }
        }
        match core.store.store_code(&key, &hash, now).await {
            Ok(SendDecision::Stored) => {}
            Ok(SendDecision::RateLimited { retry_after }) => {
                core.give_back(&taken).await;
                return Err(OtpError::RateLimited { retry_after });
            }
            Err(e) => {
                core.give_back(&taken).await;
                return Err(e.into());
            }
        }
        let text = SecretString::from(core.config.render_message(code.expose()));
        drop(code);
        if let Err(sms_error) = self.sms.send(phone, &text).await {
            if let Err(e) = core.store.void_code(&key, &hash).await {
                tracing::error!(
                    error.message = %e,
                    "could not void a code whose sms failed; it expires on its own"
                );
            }
            return Err(OtpError::SmsFailed(sms_error));
        }
        Ok(Sent {
            expires_in: core.config.expiry.as_secs(),
        })
    }
}

/// Everything `verify-otp` needs, built once per execution environment.
pub struct VerifyOtp {
    core: Core,
}

impl VerifyOtp {
    pub fn new(
        config: OtpConfig,
        dynamodb: aws_sdk_dynamodb::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            core: Core::new(config, dynamodb, clock),
        }
    }

    pub fn config(&self) -> &OtpConfig {
        &self.core.config
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
        let key = core.hasher.phone_key(phone);
        let hash = core.hasher.code_hash(&key, code);
        let now = core.clock.now();
        let limit = core.defences().max_failures_per_ip_per_hour;
        let reserved = core.ip_counter("ip-fail", caller, limit, now);
        if let Some(counter) = &reserved
            && let Some(retry_after) = core.store.take(counter, limit, now).await?
        {
            tracing::warn!(
                limit = "failed verifies per client ip per hour",
                "verify limit reached"
            );
            return Err(OtpError::TooManyAttempts { retry_after });
        }
        let decision = core.store.verify(&key, &hash, now).await;
        if matches!(decision, Ok(VerifyDecision::Verified) | Err(_)) {
            core.give_back(reserved.as_slice()).await;
        }
        match decision? {
            VerifyDecision::Verified => Ok(()),
            VerifyDecision::Rejected => Err(OtpError::InvalidOtp),
            VerifyDecision::Exhausted { retry_after } => {
                Err(OtpError::TooManyAttempts { retry_after })
            }
        }
    }
}
