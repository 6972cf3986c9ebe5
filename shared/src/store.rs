//! The DynamoDB store: one item per phone number, changed only by single-item conditional
//! writes, so every rule holds under any number of concurrent requests.
//!
//! Item (partition key `pk` = keyed hash of the E.164 number; nothing else identifies it):
//!
//! | attribute            | type | meaning                                                    |
//! |----------------------|------|------------------------------------------------------------|
//! | `code_hash`          | B    | keyed hash of the pending code; absent once used or voided |
//! | `code_expires_at`    | N    | epoch seconds after which the code is refused              |
//! | `attempts`           | N    | wrong guesses against the pending code                     |
//! | `last_sent_at`       | N    | epoch seconds of the last send (resend cooldown)           |
//! | `window_started_at`  | N    | start of the number's current one-hour window              |
//! | `sends_in_window`    | N    | codes sent in that window                                  |
//! | `failures_in_window` | N    | wrong guesses in that window, across all codes             |
//! | `ttl`                | N    | epoch seconds after which DynamoDB may delete the item     |
//!
//! The window counters are only reset when a send finds the window over; a new code within the
//! window keeps them, so asking for a new code never buys more guesses.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use crate::config::{Limit, OtpConfig};
use crate::hashing::{CodeHash, PhoneKey};

pub const PARTITION_KEY: &str = "pk";
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The attribute of counter items (per IP, per prefix, per minute).
pub const COUNT_ATTRIBUTE: &str = "count";
/// Length of the per-number rate-limit window, in seconds.
pub const WINDOW_SECONDS: u64 = 3600;

type Item = HashMap<String, AttributeValue>;

/// A DynamoDB request that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Timeouts, network failures, throttling, 5xx: worth trying again later.
    #[error("dynamodb unavailable: {0}")]
    Unavailable(String),
    /// Anything else (missing table, access denied, validation): a deployment problem.
    #[error("dynamodb request failed: {0}")]
    Failed(String),
}

fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(e) => matches!(
            e.err().code(),
            Some(
                "ProvisionedThroughputExceededException"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "InternalServerError"
                    | "ServiceUnavailable"
            )
        ),
        _ => false,
    };
    let text = DisplayErrorContext(&err).to_string();
    if transient {
        StoreError::Unavailable(text)
    } else {
        StoreError::Failed(text)
    }
}

/// The per-number limits the store enforces in its conditions.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub code_ttl: u64,
    pub max_attempts: u32,
    pub resend_cooldown: u64,
    pub max_sends_per_window: Limit,
    pub max_failures_per_window: Limit,
}

impl Limits {
    pub fn from_config(cfg: &OtpConfig) -> Self {
        Self {
            code_ttl: cfg.expiry.as_secs(),
            max_attempts: cfg.max_attempts,
            resend_cooldown: cfg.resend_cooldown.as_secs(),
            max_sends_per_window: cfg.max_sends_per_hour,
            max_failures_per_window: cfg.max_failures_per_hour,
        }
    }
}

/// Seconds a counter item outlives its bucket before DynamoDB may delete it.
const COUNTER_GRACE: u64 = 60;

/// A counter in its own item: one per subject (a hashed IP, a hashed prefix, the whole
/// deployment) and time bucket. Its key never collides with a phone item's (64 hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    key: String,
    /// Epoch seconds at which the bucket ends and a fresh counter starts.
    ends_at: u64,
}

impl Counter {
    /// The counter for `subject` in the `period`-second bucket that holds `now`.
    pub fn new(kind: &str, subject: &str, period: u64, now: u64) -> Self {
        let bucket = now / period;
        Self {
            key: format!("{kind}#{subject}#{bucket}"),
            ends_at: (bucket + 1) * period,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDecision {
    /// The new code is stored and replaces any earlier one.
    Stored,
    /// Too soon or too many: nothing was changed. Try again after this many seconds.
    RateLimited { retry_after: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDecision {
    /// The code matched and is now used up.
    Verified,
    /// Wrong, expired, already used or no code: one answer for all.
    Rejected,
    /// The code's attempts or the number's failure budget are used up; a new code can be
    /// requested after this many seconds.
    Exhausted { retry_after: u64 },
}

/// What a conditional update returned.
enum Conditional {
    Applied(Item),
    /// The condition failed; the item as it was, when the server returns it.
    Refused(Option<Item>),
}

/// The numbers the store keeps for a phone number, as read back from an item.
#[derive(Debug, Default)]
struct State {
    code_hash: Option<CodeHash>,
    code_expires_at: u64,
    attempts: u64,
    last_sent_at: u64,
    window_started_at: u64,
    sends_in_window: u64,
    failures_in_window: u64,
}

fn number(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl State {
    fn from_item(item: &Item) -> Self {
        Self {
            code_hash: item
                .get("code_hash")
                .and_then(|v| v.as_b().ok())
                .and_then(|b| CodeHash::from_bytes(b.as_ref())),
            code_expires_at: number(item, "code_expires_at"),
            attempts: number(item, "attempts"),
            last_sent_at: number(item, "last_sent_at"),
            window_started_at: number(item, "window_started_at"),
            sends_in_window: number(item, "sends_in_window"),
            failures_in_window: number(item, "failures_in_window"),
        }
    }

    fn window_open(&self, now: u64) -> bool {
        self.window_started_at + WINDOW_SECONDS > now
    }

    fn budget_spent(&self, limits: &Limits, now: u64) -> bool {
        self.window_open(now)
            && (self.sends_in_window >= limits.max_sends_per_window.bound()
                || self.failures_in_window >= limits.max_failures_per_window.bound())
    }

    /// Seconds until a send for this number can succeed (at least 1).
    fn retry_after(&self, limits: &Limits, now: u64) -> u64 {
        let mut at = self.last_sent_at + limits.resend_cooldown;
        if self.budget_spent(limits, now) {
            at = at.max(self.window_started_at + WINDOW_SECONDS);
        }
        at.saturating_sub(now).max(1)
    }

    fn code_exhausted(&self, limits: &Limits) -> bool {
        self.attempts >= u64::from(limits.max_attempts)
            || self.failures_in_window >= limits.max_failures_per_window.bound()
    }

    fn has_live_code(&self, now: u64) -> bool {
        self.code_hash.is_some() && self.code_expires_at > now
    }
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn b(hash: &CodeHash) -> AttributeValue {
    AttributeValue::B(Blob::new(hash.as_bytes()))
}

pub struct DynamoDbOtpStore {
    client: Client,
    table: String,
    limits: Limits,
}

impl DynamoDbOtpStore {
    pub fn new(client: Client, table: impl Into<String>, limits: Limits) -> Self {
        Self {
            client,
            table: table.into(),
            limits,
        }
    }

    async fn update(
        &self,
        pk: &str,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Conditional, StoreError> {
        let values = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(pk.to_owned()))
            .update_expression(update)
            .condition_expression(condition);
        // `ttl` and `count` are reserved words; DynamoDB refuses names an expression does not
        // use, so only the ones in use are passed.
        for (placeholder, name) in [("#ttl", TTL_ATTRIBUTE), ("#count", COUNT_ATTRIBUTE)] {
            if update.contains(placeholder) || condition.contains(placeholder) {
                request = request.expression_attribute_names(placeholder, name);
            }
        }
        let result = request
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => Ok(Conditional::Applied(out.attributes.unwrap_or_default())),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                let UpdateItemError::ConditionalCheckFailedException(failed) = e.into_err() else {
                    unreachable!("matched above")
                };
                Ok(Conditional::Refused(failed.item))
            }
            Err(e) => Err(store_error(e)),
        }
    }

    /// The item as it is now (strongly consistent), for servers that do not return the old
    /// item when a condition fails.
    async fn read(&self, key: &PhoneKey, returned: Option<Item>) -> Result<State, StoreError> {
        if let Some(item) = returned {
            return Ok(State::from_item(&item));
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PARTITION_KEY, AttributeValue::S(key.as_str().to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(out.item.as_ref().map(State::from_item).unwrap_or_default())
    }

    /// Stores a new code for the number unless the cooldown, the send cap or the failure
    /// budget forbids it. One write when the number is new or inside its window; a second
    /// only to start a new window over an old item.
    pub async fn store_code(
        &self,
        key: &PhoneKey,
        hash: &CodeHash,
        now: u64,
    ) -> Result<SendDecision, StoreError> {
        let l = &self.limits;
        let values = || {
            vec![
                (":h", b(hash)),
                (":exp", n(now + l.code_ttl)),
                (":now", n(now)),
                (":zero", n(0)),
                (":one", n(1)),
                (":ttl", n(now + WINDOW_SECONDS.max(l.code_ttl))),
                (":window_start", n(now.saturating_sub(WINDOW_SECONDS))),
                (":cooldown", n(now.saturating_sub(l.resend_cooldown))),
            ]
        };
        let mut in_window = values();
        in_window.push((":max_sends", n(l.max_sends_per_window.bound())));
        in_window.push((":max_failures", n(l.max_failures_per_window.bound())));
        let first = self
            .update(
                key.as_str(),
                "SET code_hash = :h, code_expires_at = :exp, attempts = :zero, \
                 last_sent_at = :now, #ttl = :ttl, \
                 window_started_at = if_not_exists(window_started_at, :now), \
                 failures_in_window = if_not_exists(failures_in_window, :zero) \
                 ADD sends_in_window :one",
                "attribute_not_exists(pk) OR (window_started_at > :window_start \
                 AND last_sent_at <= :cooldown AND sends_in_window < :max_sends \
                 AND failures_in_window < :max_failures)",
                in_window,
            )
            .await?;
        let returned = match first {
            Conditional::Applied(_) => return Ok(SendDecision::Stored),
            Conditional::Refused(item) => item,
        };
        // Refused: either limited inside the window, or the window is over and the counters
        // start again. Skip the second write when the returned item already rules it out.
        let window_over = returned
            .as_ref()
            .map(|item| !State::from_item(item).window_open(now));
        if window_over != Some(false) {
            let second = self
                .update(
                    key.as_str(),
                    "SET code_hash = :h, code_expires_at = :exp, attempts = :zero, \
                     last_sent_at = :now, #ttl = :ttl, window_started_at = :now, \
                     sends_in_window = :one, failures_in_window = :zero",
                    "window_started_at <= :window_start AND last_sent_at <= :cooldown",
                    values(),
                )
                .await?;
            match second {
                Conditional::Applied(_) => return Ok(SendDecision::Stored),
                Conditional::Refused(item) => {
                    let state = self.read(key, item).await?;
                    return Ok(SendDecision::RateLimited {
                        retry_after: state.retry_after(l, now),
                    });
                }
            }
        }
        let state = self.read(key, returned).await?;
        Ok(SendDecision::RateLimited {
            retry_after: state.retry_after(l, now),
        })
    }

    /// Checks a guess. The right code is consumed in one conditional write; a wrong guess is
    /// counted by a second one, against both the code's attempts and the number's window.
    pub async fn verify(
        &self,
        key: &PhoneKey,
        hash: &CodeHash,
        now: u64,
    ) -> Result<VerifyDecision, StoreError> {
        let l = &self.limits;
        let values = || {
            vec![
                (":h", b(hash)),
                (":now", n(now)),
                (":max_attempts", n(u64::from(l.max_attempts))),
                (":max_failures", n(l.max_failures_per_window.bound())),
            ]
        };
        let consumed = self
            .update(
                key.as_str(),
                "REMOVE code_hash, code_expires_at",
                "code_hash = :h AND code_expires_at > :now AND attempts < :max_attempts \
                 AND failures_in_window < :max_failures",
                values(),
            )
            .await?;
        if let Conditional::Applied(_) = consumed {
            return Ok(VerifyDecision::Verified);
        }
        let mut count = values();
        count.push((":one", n(1)));
        let counted = self
            .update(
                key.as_str(),
                "ADD attempts :one, failures_in_window :one",
                "attribute_exists(code_hash) AND code_hash <> :h AND code_expires_at > :now \
                 AND attempts < :max_attempts AND failures_in_window < :max_failures",
                count,
            )
            .await?;
        let state = match counted {
            Conditional::Applied(item) => State::from_item(&item),
            Conditional::Refused(item) => {
                let state = self.read(key, item).await?;
                if !state.has_live_code(now) {
                    return Ok(VerifyDecision::Rejected);
                }
                state
            }
        };
        if state.code_exhausted(l) {
            Ok(VerifyDecision::Exhausted {
                retry_after: state.retry_after(l, now),
            })
        } else {
            Ok(VerifyDecision::Rejected)
        }
    }

    /// Takes one unit from a counter unless it has reached `limit`. `None` when taken,
    /// otherwise the seconds until the counter's bucket ends. One conditional write.
    pub async fn take(
        &self,
        counter: &Counter,
        limit: Limit,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let result = self
            .update(
                &counter.key,
                "ADD #count :one SET #ttl = :ttl",
                "attribute_not_exists(#count) OR #count < :limit",
                vec![
                    (":one", n(1)),
                    (":ttl", n(counter.ends_at + COUNTER_GRACE)),
                    (":limit", n(limit.bound())),
                ],
            )
            .await?;
        Ok(match result {
            Conditional::Applied(_) => None,
            Conditional::Refused(_) => Some(counter.ends_at.saturating_sub(now).max(1)),
        })
    }

    /// Returns a unit taken by [`take`](Self::take) for a request that went no further.
    pub async fn give_back(&self, counter: &Counter) -> Result<(), StoreError> {
        self.update(
            &counter.key,
            "ADD #count :minus_one",
            "#count > :zero",
            vec![
                (":minus_one", AttributeValue::N("-1".into())),
                (":zero", n(0)),
            ],
        )
        .await?;
        Ok(())
    }

    /// Voids the code just stored when the SMS could not be sent, unless it was replaced or
    /// used meanwhile.
    pub async fn void_code(&self, key: &PhoneKey, hash: &CodeHash) -> Result<bool, StoreError> {
        let result = self
            .update(
                key.as_str(),
                "REMOVE code_hash, code_expires_at",
                "code_hash = :h",
                vec![(":h", b(hash))],
            )
            .await?;
        Ok(matches!(result, Conditional::Applied(_)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            code_ttl: 300,
            max_attempts: 5,
            resend_cooldown: 30,
            max_sends_per_window: Limit::AtMost(5),
            max_failures_per_window: Limit::AtMost(10),
        }
    }

    fn item(pairs: &[(&str, u64)]) -> Item {
        pairs.iter().map(|(k, v)| (k.to_string(), n(*v))).collect()
    }

    #[test]
    fn state_reads_numbers_and_hash_from_an_item() {
        let mut it = item(&[
            ("attempts", 3),
            ("code_expires_at", 1300),
            ("sends_in_window", 2),
        ]);
        it.insert("code_hash".into(), AttributeValue::B(Blob::new([7u8; 32])));
        let s = State::from_item(&it);
        assert_eq!(s.attempts, 3);
        assert_eq!(s.sends_in_window, 2);
        assert!(s.has_live_code(1299));
        assert!(!s.has_live_code(1300));
        assert_eq!(s.failures_in_window, 0);
    }

    #[test]
    fn retry_after_is_the_cooldown_while_the_window_has_budget() {
        let s = State::from_item(&item(&[
            ("last_sent_at", 1000),
            ("window_started_at", 900),
            ("sends_in_window", 2),
        ]));
        assert_eq!(s.retry_after(&limits(), 1010), 20);
        assert_eq!(s.retry_after(&limits(), 1040), 1);
    }

    #[test]
    fn retry_after_runs_to_the_end_of_the_window_when_its_budget_is_spent() {
        let s = State::from_item(&item(&[
            ("last_sent_at", 1000),
            ("window_started_at", 900),
            ("sends_in_window", 5),
        ]));
        assert_eq!(s.retry_after(&limits(), 1010), 900 + 3600 - 1010);
        let s = State::from_item(&item(&[
            ("last_sent_at", 1000),
            ("window_started_at", 900),
            ("failures_in_window", 10),
        ]));
        assert_eq!(s.retry_after(&limits(), 1010), 900 + 3600 - 1010);
    }

    #[test]
    fn counters_are_bucketed_by_period() {
        let c = Counter::new("global", "all", 60, 1_000_030);
        assert_eq!(c.key(), "global#all#16667");
        assert_eq!(c.ends_at, 1_000_020 + 60);
        assert_eq!(Counter::new("global", "all", 60, 1_000_079), c);
        assert_ne!(Counter::new("global", "all", 60, 1_000_080), c);
    }

    #[test]
    fn switched_off_limits_never_bind() {
        let mut l = limits();
        l.max_sends_per_window = Limit::Off;
        let s = State::from_item(&item(&[
            ("window_started_at", 900),
            ("sends_in_window", 5000),
        ]));
        assert!(!s.budget_spent(&l, 1000));
    }
}
