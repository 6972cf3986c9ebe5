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
use crate::store::{
    Counter, DynamoDbOtpStore, Limits, SendDecision, ShardedCounter, VerifyDecision,
};

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

    /// The per-client counters of `kind` for the caller, each with its limit: the IPv4
    /// address or IPv6 /64 under `per_ip`, and for IPv6 also the /48 under `per_48`. Only
    /// those switched on, and none when the caller's IP is unknown.
    fn ip_counters(
        &self,
        kind: &str,
        caller: &Caller,
        per_ip: Limit,
        per_48: Limit,
        now: u64,
    ) -> Vec<Budget> {
        let Some(ip) = caller.ip else {
            return Vec::new();
        };
        let block = ip
            .ipv6_48()
            .map(|block| (format!("{kind}48"), block, per_48));
        std::iter::once((kind.to_owned(), ip.subject(), per_ip))
            .chain(block)
            .filter(|(_, _, limit)| *limit != Limit::Off)
            .map(|(kind, subject, limit)| {
                let subject = self.hasher.counter_subject(&kind, &subject);
                Budget::One(Counter::new(&kind, &subject, HOUR, now), limit)
            })
            .collect()
    }

    /// Takes a unit from every budget, in order, or from none: when one is full (or a
    /// request fails) the units already taken are given back. The counters taken, or the
    /// index of the full budget and the seconds until it has room.
    async fn take_all<'a>(
        &self,
        budgets: impl IntoIterator<Item = &'a Budget>,
        now: u64,
    ) -> Result<Result<Vec<Counter>, (usize, u64)>, OtpError> {
        let mut taken = Vec::new();
        for (i, budget) in budgets.into_iter().enumerate() {
            let outcome = match budget {
                Budget::One(counter, limit) => self
                    .store
                    .take(counter, *limit, now)
                    .await
                    .map(|full| full.map_or_else(|| Ok(counter.clone()), Err)),
                Budget::Sharded(sharded) => self.store.take_shard(sharded, now).await,
            };
            match outcome {
                Ok(Ok(counter)) => taken.push(counter),
                Ok(Err(retry_after)) => {
                    self.give_back(&taken).await;
                    return Ok(Err((i, retry_after)));
                }
                Err(e) => {
                    self.give_back(&taken).await;
                    return Err(e.into());
                }
            }
        }
        Ok(Ok(taken))
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

/// A counter a send takes a unit from, with what to log when it trips.
struct SendCounter {
    budget: Budget,
    name: &'static str,
    /// The number range, for the range counter: as much of it as the masked number shows,
    /// and a short keyed hash that tells ranges apart without revealing them.
    range: Option<(String, String)>,
}

enum Budget {
    One(Counter, Limit),
    Sharded(ShardedCounter),
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

    /// The counters a send must take a unit from: the deployment-wide budget per minute
    /// (sharded), the caller's IP (and IPv6 /48) per hour and the number's range per hour.
    /// Only those switched on.
    fn send_counters(&self, phone: &PhoneNumber, caller: &Caller, now: u64) -> Vec<SendCounter> {
        let d = self.core.defences();
        let mut counters = Vec::new();
        if let Limit::AtMost(budget) = d.max_sends_per_minute {
            counters.push(SendCounter {
                budget: Budget::Sharded(ShardedCounter::new("global", budget, MINUTE, now)),
                name: "global sends per minute",
                range: None,
            });
        }
        let per_ip = self.core.ip_counters(
            "ip-send",
            caller,
            d.max_sends_per_ip_per_hour,
            d.max_sends_per_ipv6_48_per_hour,
            now,
        );
        for budget in per_ip {
            counters.push(SendCounter {
                budget,
                name: "sends per client ip per hour",
                range: None,
            });
        }
        if d.max_sends_per_prefix_per_hour != Limit::Off {
            let prefix = phone.prefix(d.prefix_digits);
            let subject = self.core.hasher.counter_subject("prefix", &prefix);
            let range = (
                phone.prefix_for_logs(d.prefix_digits),
                subject[..8].to_owned(),
            );
            counters.push(SendCounter {
                budget: Budget::One(
                    Counter::new("prefix", &subject, HOUR, now),
                    d.max_sends_per_prefix_per_hour,
                ),
                name: "sends per number prefix per hour",
                range: Some(range),
            });
        }
        counters
    }

    /// Takes a unit from every send counter, or none: a refusal gives back what was taken.
    async fn take_send_counters(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        now: u64,
    ) -> Result<Vec<Counter>, OtpError> {
        let counters = self.send_counters(phone, caller, now);
        let budgets: Vec<&Budget> = counters.iter().map(|c| &c.budget).collect();
        match self.core.take_all(budgets, now).await? {
            Ok(taken) => Ok(taken),
            Err((i, retry_after)) => {
                let c = &counters[i];
                // The range (never the number) tells an operator where pumping aims.
                let (prefix, range) = c.range.clone().unzip();
                tracing::warn!(limit = c.name, prefix, range, "send limit reached");
                Err(OtpError::RateLimited { retry_after })
            }
        }
    }

    /// Stores the hash of a fresh code, then sends the code. The write comes first so every
    /// delivered code can be verified; if the SMS finally fails, the stored code is taken
    /// back and the code it replaced, if still valid, is valid again. A failed send still
    /// counts against the cooldown and the caps: Plivo may have delivered (and billed) it.
    pub async fn send(&self, phone: &PhoneNumber, caller: &Caller) -> Result<Sent, OtpError> {
        self.screen(phone)?;
        let core = &self.core;
        let now = core.clock.now();
        let taken = self.take_send_counters(phone, caller, now).await?;
        let key = core.hasher.phone_key(phone);
        let code = generate_code(core.config.code_length);
        let hash = core.hasher.code_hash(&key, &code);
        let previous = match core.store.store_code(&key, &hash, now).await {
            Ok(SendDecision::Stored { previous }) => previous,
            Ok(SendDecision::RateLimited { retry_after }) => {
                core.give_back(&taken).await;
                return Err(OtpError::RateLimited { retry_after });
            }
            Err(e) => {
                core.give_back(&taken).await;
                return Err(e.into());
            }
        };
        let text = SecretString::from(core.config.render_message(code.expose()));
        drop(code);
        if let Err(sms_error) = self.sms.send(phone, &text).await {
            let now = core.clock.now();
            if let Err(e) = core
                .store
                .withdraw_code(&key, &hash, previous.as_ref(), now)
                .await
            {
                tracing::error!(
                    error.message = %e,
                    "could not withdraw a code whose sms failed; it expires on its own"
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
        let d = core.defences();
        let budgets = core.ip_counters(
            "ip-fail",
            caller,
            d.max_failures_per_ip_per_hour,
            d.max_failures_per_ipv6_48_per_hour,
            now,
        );
        let reserved = match core.take_all(&budgets, now).await? {
            Ok(taken) => taken,
            Err((_, retry_after)) => {
                tracing::warn!(
                    limit = "failed verifies per client ip per hour",
                    "verify limit reached"
                );
                return Err(OtpError::TooManyAttempts { retry_after });
            }
        };
        let decision = core.store.verify(&key, &hash, now).await;
        if matches!(decision, Ok(VerifyDecision::Verified) | Err(_)) {
            core.give_back(&reserved).await;
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
