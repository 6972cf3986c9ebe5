//! The DynamoDB store: one item per phone number, changed only by single-item conditional
//! writes, so every rule holds under any number of concurrent requests.
//!
//! Item (partition key `pk` = keyed hash of the E.164 number; nothing else identifies it):
//!
//! | attribute                       | type | meaning                                           |
//! |---------------------------------|------|---------------------------------------------------|
//! | `code_hash`                     | B    | keyed hash of the pending code; absent once used or voided |
//! | `code_expires_at`               | N    | epoch seconds after which the code is refused     |
//! | `attempts`                      | N    | guesses counted since the last code was sent      |
//! | `last_sent_at`                  | N    | epoch seconds of the last send (resend cooldown)  |
//! | `window_started_at`             | N    | start of the number's current one-hour window     |
//! | `sends_in_window`               | N    | codes sent in that window                         |
//! | `failures_in_window`            | N    | wrong guesses in that window, across all codes    |
//! | `consecutive_failures`          | N    | wrong guesses since the last right one, across windows |
//! | `consecutive_failures_reset_at` | N    | when that run (and a lock) ends: last failure + lockout |
//! | `ttl`                           | N    | epoch seconds after which DynamoDB may delete the item |
//!
//! A guess is counted before it is compared: one conditional write adds it to every counter
//! while all are below their limits and returns the stored hash; only a guess counted that
//! way is compared (in constant time), and only a match is consumed, by a second write
//! conditional on that hash. So at most `max_attempts` guesses are ever compared per code,
//! whatever the concurrency. Guesses are counted whether or not a code is pending, so a
//! number with a code and one without answer alike.
//!
//! The window counters are only reset when a send finds the window over; a new code within the
//! window keeps them, so asking for a new code never buys more guesses. The consecutive
//! failures survive windows and new codes; only a right code resets them.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use rand::RngExt;
use rand::seq::SliceRandom;

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
    /// Timeouts, network failures, 5xx: worth trying again later.
    #[error("dynamodb unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB refused the request for its rate (the key, table or account is throttled).
    #[error("dynamodb throttled the request: {0}")]
    Throttled(String),
    /// Anything else (missing table, access denied, validation): a deployment problem.
    #[error("dynamodb request failed: {0}")]
    Failed(String),
}

fn store_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(&err).to_string();
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(text)
        }
        SdkError::ServiceError(e) => match e.err().code() {
            Some(
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded",
            ) => StoreError::Throttled(text),
            Some("InternalServerError" | "ServiceUnavailable") => StoreError::Unavailable(text),
            _ => StoreError::Failed(text),
        },
        _ => StoreError::Failed(text),
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
    pub max_consecutive_failures: u32,
    /// Seconds a run of consecutive failures lasts after its last failure.
    pub lockout: u64,
}

impl Limits {
    pub fn from_config(cfg: &OtpConfig) -> Self {
        Self {
            code_ttl: cfg.expiry.as_secs(),
            max_attempts: cfg.max_attempts,
            resend_cooldown: cfg.resend_cooldown.as_secs(),
            max_sends_per_window: cfg.max_sends_per_hour,
            max_failures_per_window: cfg.max_failures_per_hour,
            max_consecutive_failures: cfg.max_consecutive_failures,
            lockout: cfg.lockout.as_secs(),
        }
    }

    /// When DynamoDB may delete a phone item written at `now`: after everything it counts
    /// (the window, the code, the run of consecutive failures) has run out.
    fn item_ttl(&self, now: u64) -> u64 {
        now + WINDOW_SECONDS.max(self.code_ttl).max(self.lockout)
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

/// The most sends one shard of a sharded counter takes per bucket: even a whole bucket's
/// share arriving within one second is 50 writes to its key, a twentieth of the 1,000 writes
/// a second DynamoDB serves per partition key.
pub const SHARD_SHARE: u32 = 50;
/// The most shards of a sharded counter: 64 x 50 = 3,200 sends per bucket before shares grow.
pub const MAX_SHARDS: u32 = 64;
/// Shards one request tries before it is refused: a full (or throttled) shard sends it to
/// another, without multiplying the writes of every refused request by the shard count.
pub const SHARD_TRIES: usize = 3;

/// A counter spread over several items, each with its share of the limit, so that no single
/// key takes every write (a hot key is throttled by DynamoDB at about 1,000 writes a second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardedCounter {
    shards: Vec<(Counter, Limit)>,
}

impl ShardedCounter {
    /// `budget` units per `period`-second bucket, spread over `ceil(budget / SHARD_SHARE)`
    /// shards (at most [`MAX_SHARDS`]) whose limits add up to `budget` exactly.
    pub fn new(kind: &str, budget: u32, period: u64, now: u64) -> Self {
        let n = budget.div_ceil(SHARD_SHARE).clamp(1, MAX_SHARDS);
        let shards = (0..n)
            .map(|i| {
                let share = budget / n + u32::from(i < budget % n);
                (
                    Counter::new(kind, &format!("shard{i}"), period, now),
                    Limit::AtMost(share),
                )
            })
            .filter(|(_, share)| *share != Limit::AtMost(0))
            .collect();
        Self { shards }
    }

    pub fn shards(&self) -> &[(Counter, Limit)] {
        &self.shards
    }
}

/// A code that was pending when a new one replaced it, kept so a failed send can put it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    hash: CodeHash,
    expires_at: u64,
    attempts: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendDecision {
    /// The new code is stored and replaces `previous`, the code still valid before it.
    Stored { previous: Option<PendingCode> },
    /// Too soon, too many or locked: nothing was changed. Try again after this many seconds.
    RateLimited { retry_after: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDecision {
    /// The code matched and is now used up.
    Verified,
    /// Wrong, expired, already used or no code: one answer for all.
    Rejected,
    /// The code's attempts, the number's failure budget or its consecutive failures are used
    /// up; a new code can be requested (and verified) after this many seconds.
    Exhausted { retry_after: u64 },
}

/// What a conditional update returned.
enum Conditional {
    /// The item as asked for (`ReturnValues`).
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
    /// `None` on items written before the count existed.
    consecutive_failures: Option<u64>,
    consecutive_failures_reset_at: u64,
    /// The request that consumed the last code, for a consume retried after a lost answer.
    consumed_by: Option<String>,
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

impl State {
    fn from_item(item: &Item) -> Self {
        let n = |name| number(item, name).unwrap_or(0);
        Self {
            code_hash: item
                .get("code_hash")
                .and_then(|v| v.as_b().ok())
                .and_then(|b| CodeHash::from_bytes(b.as_ref())),
            code_expires_at: n("code_expires_at"),
            attempts: n("attempts"),
            last_sent_at: n("last_sent_at"),
            window_started_at: n("window_started_at"),
            sends_in_window: n("sends_in_window"),
            failures_in_window: n("failures_in_window"),
            consecutive_failures: number(item, "consecutive_failures"),
            consecutive_failures_reset_at: n("consecutive_failures_reset_at"),
            consumed_by: item.get("consumed_by").and_then(|v| v.as_s().ok()).cloned(),
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

    /// Consecutive failures that still count at `now`.
    fn streak(&self, now: u64) -> u64 {
        if self.consecutive_failures_reset_at > now {
            self.consecutive_failures.unwrap_or(0)
        } else {
            0
        }
    }

    fn locked(&self, limits: &Limits, now: u64) -> bool {
        self.streak(now) >= u64::from(limits.max_consecutive_failures)
    }

    /// The stored run of failures is over (or predates the count) but not yet zeroed.
    fn streak_stale(&self, now: u64) -> bool {
        match self.consecutive_failures {
            None => true,
            Some(count) => count > 0 && self.consecutive_failures_reset_at <= now,
        }
    }

    /// Seconds until a send for this number can succeed (at least 1).
    fn retry_after(&self, limits: &Limits, now: u64) -> u64 {
        let mut at = self.last_sent_at + limits.resend_cooldown;
        if self.budget_spent(limits, now) {
            at = at.max(self.window_started_at + WINDOW_SECONDS);
        }
        if self.locked(limits, now) {
            at = at.max(self.consecutive_failures_reset_at);
        }
        at.saturating_sub(now).max(1)
    }

    /// Seconds until a guess can count again, for a verify refused or exhausted: from the
    /// counts and the lock only (upper bounds), never from when a code was sent, so the value
    /// is the same for a number with a pending code and one without.
    fn guess_retry_after(&self, limits: &Limits, now: u64) -> u64 {
        let mut wait = 0;
        if self.attempts >= u64::from(limits.max_attempts) {
            wait = limits.resend_cooldown;
        }
        if self.failures_in_window >= limits.max_failures_per_window.bound() {
            wait = wait.max(WINDOW_SECONDS);
        }
        if self.locked(limits, now) {
            wait = wait.max(self.consecutive_failures_reset_at - now);
        }
        wait.max(1)
    }

    /// The per-code and per-window guess limits, as they stand.
    fn guesses_left(&self, limits: &Limits) -> bool {
        self.attempts < u64::from(limits.max_attempts)
            && self.failures_in_window < limits.max_failures_per_window.bound()
    }

    /// After this guess was counted, no further guess will be.
    fn guesses_exhausted(&self, limits: &Limits, now: u64) -> bool {
        !self.guesses_left(limits) || self.locked(limits, now)
    }

    fn has_live_code(&self, now: u64) -> bool {
        self.code_hash.is_some() && self.code_expires_at > now
    }

    /// Whether `guess` is the live code. The same constant-time work whether or not a code
    /// is pending.
    fn matches(&self, guess: &CodeHash, now: u64) -> bool {
        let stored = self.code_hash.as_ref().unwrap_or(&CodeHash::ABSENT);
        let same = stored.ct_eq(guess);
        same & self.has_live_code(now)
    }

    fn pending_code(&self, now: u64) -> Option<PendingCode> {
        let hash = self.code_hash.clone().filter(|_| self.has_live_code(now))?;
        Some(PendingCode {
            hash,
            expires_at: self.code_expires_at,
            attempts: self.attempts,
        })
    }
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn b(hash: &CodeHash) -> AttributeValue {
    AttributeValue::B(Blob::new(hash.as_bytes()))
}

/// The counters of a send, set on a new item and kept on an existing one.
const SEND_SET: &str = "code_hash = :h, code_expires_at = :exp, attempts = :zero, \
     last_sent_at = :now, #ttl = :ttl, \
     consecutive_failures = if_not_exists(consecutive_failures, :zero), \
     consecutive_failures_reset_at = if_not_exists(consecutive_failures_reset_at, :zero)";

/// A send is refused while the number is locked.
const NOT_LOCKED: &str = "(attribute_not_exists(consecutive_failures) \
     OR consecutive_failures < :max_consecutive OR consecutive_failures_reset_at <= :now)";

/// A guess, counted on every counter at once (creating the item when the number is new).
const COUNT_SET: &str = "attempts = if_not_exists(attempts, :zero) + :one, \
     failures_in_window = if_not_exists(failures_in_window, :zero) + :one, \
     window_started_at = if_not_exists(window_started_at, :now), \
     last_sent_at = if_not_exists(last_sent_at, :zero), \
     sends_in_window = if_not_exists(sends_in_window, :zero), \
     consecutive_failures_reset_at = :reset_at, #ttl = :ttl";

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

    fn request(
        &self,
        pk: &str,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        returns: ReturnValue,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
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
        request
            .set_expression_attribute_values(Some(values))
            .return_values(returns)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    async fn update(
        &self,
        pk: &str,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
        returns: ReturnValue,
    ) -> Result<Conditional, StoreError> {
        let result = self
            .request(pk, update, condition, values, returns)
            .send()
            .await;
        conditional(result)
    }

    /// A counter write: one attempt only, never retried by the SDK (see
    /// [`take`](Self::take) and [`give_back`](Self::give_back)).
    async fn update_once(
        &self,
        pk: &str,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Conditional, StoreError> {
        let once = aws_sdk_dynamodb::Config::builder().retry_config(RetryConfig::disabled());
        let result = self
            .request(pk, update, condition, values, ReturnValue::None)
            .customize()
            .config_override(once)
            .send()
            .await;
        conditional(result)
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

    /// Stores a new code for the number unless the cooldown, the send cap, the failure
    /// budget or a lock forbids it. One write when the number is new or inside its window; a
    /// second only to start a new window over an old item.
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
                (":ttl", n(l.item_ttl(now))),
                (":window_start", n(now.saturating_sub(WINDOW_SECONDS))),
                (":cooldown", n(now.saturating_sub(l.resend_cooldown))),
                (":max_consecutive", n(u64::from(l.max_consecutive_failures))),
            ]
        };
        let mut in_window = values();
        in_window.push((":max_sends", n(l.max_sends_per_window.bound())));
        in_window.push((":max_failures", n(l.max_failures_per_window.bound())));
        let first = self
            .update(
                key.as_str(),
                &format!(
                    "SET {SEND_SET}, \
                     window_started_at = if_not_exists(window_started_at, :now), \
                     failures_in_window = if_not_exists(failures_in_window, :zero) \
                     ADD sends_in_window :one"
                ),
                &format!(
                    "attribute_not_exists(pk) OR (window_started_at > :window_start \
                     AND last_sent_at <= :cooldown AND sends_in_window < :max_sends \
                     AND failures_in_window < :max_failures AND {NOT_LOCKED})"
                ),
                in_window,
                ReturnValue::AllOld,
            )
            .await?;
        let returned = match first {
            Conditional::Applied(old) => return Ok(stored(&old, now)),
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
                    &format!(
                        "SET {SEND_SET}, window_started_at = :now, sends_in_window = :one, \
                         failures_in_window = :zero"
                    ),
                    &format!(
                        "window_started_at <= :window_start AND last_sent_at <= :cooldown \
                         AND {NOT_LOCKED}"
                    ),
                    values(),
                    ReturnValue::AllOld,
                )
                .await?;
            match second {
                Conditional::Applied(old) => return Ok(stored(&old, now)),
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

    /// Counts a guess on every counter while all are below their limits, and returns the
    /// item as it is after the count. `restart` starts a new run of consecutive failures
    /// over one that has run out.
    async fn count_guess(
        &self,
        key: &PhoneKey,
        now: u64,
        restart: bool,
    ) -> Result<Conditional, StoreError> {
        let l = &self.limits;
        let mut values = vec![
            (":now", n(now)),
            (":zero", n(0)),
            (":one", n(1)),
            (":reset_at", n(now + l.lockout)),
            (":ttl", n(l.item_ttl(now))),
            (":max_attempts", n(u64::from(l.max_attempts))),
            (":max_failures", n(l.max_failures_per_window.bound())),
        ];
        if !restart {
            values.push((":max_consecutive", n(u64::from(l.max_consecutive_failures))));
        }
        let under_limits = "attempts < :max_attempts AND failures_in_window < :max_failures";
        let (update, condition) = if restart {
            (
                format!("SET {COUNT_SET}, consecutive_failures = :one"),
                format!(
                    "{under_limits} AND (attribute_not_exists(consecutive_failures) \
                     OR consecutive_failures_reset_at <= :now)"
                ),
            )
        } else {
            (
                format!(
                    "SET {COUNT_SET}, \
                     consecutive_failures = if_not_exists(consecutive_failures, :zero) + :one"
                ),
                format!(
                    "attribute_not_exists(pk) OR ({under_limits} \
                     AND (consecutive_failures = :zero OR (consecutive_failures < :max_consecutive \
                     AND consecutive_failures_reset_at > :now)))"
                ),
            )
        };
        self.update(
            key.as_str(),
            &update,
            &condition,
            values,
            ReturnValue::AllNew,
        )
        .await
    }

    /// Counts a guess: the item after the count, or the seconds until a guess can count
    /// again. A count refused while the item is under every limit is tried again (at most
    /// twice): as a restart when the run of consecutive failures has run out, as a plain
    /// count when a concurrent guess changed the item first.
    async fn count(&self, key: &PhoneKey, now: u64) -> Result<Result<State, u64>, StoreError> {
        let l = &self.limits;
        let mut restart = false;
        let mut state = State::default();
        for _ in 0..3 {
            match self.count_guess(key, now, restart).await? {
                Conditional::Applied(item) => return Ok(Ok(State::from_item(&item))),
                Conditional::Refused(returned) => state = self.read(key, returned).await?,
            }
            if !state.guesses_left(l) || state.locked(l, now) {
                break;
            }
            // Under the limits: the item changed since (or the run had run out). Count
            // again, as the item now asks.
            restart = state.streak_stale(now);
        }
        Ok(Err(state.guess_retry_after(l, now)))
    }

    /// Checks a guess: counted first, compared only once counted, consumed only on a match.
    /// A wrong guess is one write; a right one two.
    pub async fn verify(
        &self,
        key: &PhoneKey,
        hash: &CodeHash,
        now: u64,
    ) -> Result<VerifyDecision, StoreError> {
        let l = &self.limits;
        let counted = match self.count(key, now).await? {
            Ok(state) => state,
            Err(retry_after) => return Ok(VerifyDecision::Exhausted { retry_after }),
        };
        if counted.matches(hash, now) {
            return self.consume(key, hash, now).await;
        }
        if counted.guesses_exhausted(l, now) {
            Ok(VerifyDecision::Exhausted {
                retry_after: counted.guess_retry_after(l, now),
            })
        } else {
            Ok(VerifyDecision::Rejected)
        }
    }

    /// Uses up the code a counted guess matched, unless a concurrent guess did first. The
    /// guess was counted as a failure; it is taken back off the attempts and the window (so
    /// a used code leaves the number as a number that never had one), and the run of
    /// consecutive failures ends.
    async fn consume(
        &self,
        key: &PhoneKey,
        hash: &CodeHash,
        now: u64,
    ) -> Result<VerifyDecision, StoreError> {
        // Marks the item as consumed by this request, so that when the SDK retries the write
        // after an answer was lost, the refused retry still knows the code was ours.
        let token = format!("{:016x}", rand::rng().random::<u64>());
        let consumed = self
            .update(
                key.as_str(),
                "REMOVE code_hash, code_expires_at \
                 SET consecutive_failures = :zero, failures_in_window = failures_in_window - :one, \
                 attempts = attempts - :one, consumed_by = :token",
                "code_hash = :h AND code_expires_at > :now AND failures_in_window >= :one \
                 AND attempts >= :one",
                vec![
                    (":h", b(hash)),
                    (":now", n(now)),
                    (":zero", n(0)),
                    (":one", n(1)),
                    (":token", AttributeValue::S(token.clone())),
                ],
                ReturnValue::None,
            )
            .await?;
        Ok(match consumed {
            Conditional::Applied(_) => VerifyDecision::Verified,
            Conditional::Refused(returned) => {
                let state = self.read(key, returned).await?;
                if state.consumed_by.as_deref() == Some(token.as_str()) {
                    VerifyDecision::Verified
                } else {
                    VerifyDecision::Rejected
                }
            }
        })
    }

    /// Takes one unit from a counter unless it has reached `limit`. `None` when taken,
    /// otherwise the seconds until the counter's bucket ends. One conditional write, not
    /// retried: a counter key DynamoDB throttles is one far beyond any limit, and counts as
    /// full.
    pub async fn take(
        &self,
        counter: &Counter,
        limit: Limit,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let result = self
            .update_once(
                &counter.key,
                "ADD #count :one SET #ttl = :ttl",
                "attribute_not_exists(#count) OR #count < :limit",
                vec![
                    (":one", n(1)),
                    (":ttl", n(counter.ends_at + COUNTER_GRACE)),
                    (":limit", n(limit.bound())),
                ],
            )
            .await;
        let full = Some(counter.ends_at.saturating_sub(now).max(1));
        match result {
            Ok(Conditional::Applied(_)) => Ok(None),
            Ok(Conditional::Refused(_)) => Ok(full),
            Err(StoreError::Throttled(e)) => {
                tracing::warn!(error.message = %e, "counter throttled; counted as full");
                Ok(full)
            }
            Err(e) => Err(e),
        }
    }

    /// Takes one unit from one shard of `counter`: a random shard, and when it is full (or
    /// throttled) another, up to [`SHARD_TRIES`]. The shard taken, or the seconds until the
    /// bucket ends.
    pub async fn take_shard(
        &self,
        counter: &ShardedCounter,
        now: u64,
    ) -> Result<Result<Counter, u64>, StoreError> {
        let mut order: Vec<&(Counter, Limit)> = counter.shards.iter().collect();
        order.shuffle(&mut rand::rng());
        let mut retry_after = 1;
        for (shard, limit) in order.into_iter().take(SHARD_TRIES) {
            match self.take(shard, *limit, now).await? {
                None => return Ok(Ok(shard.clone())),
                Some(seconds) => retry_after = seconds,
            }
        }
        Ok(Err(retry_after))
    }

    /// Returns a unit taken by [`take`](Self::take) for a request that went no further. Not
    /// retried: a retry after a lost answer could return the unit twice.
    pub async fn give_back(&self, counter: &Counter) -> Result<(), StoreError> {
        self.update_once(
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

    /// Takes back the code just stored when its SMS could not be sent, unless it was replaced
    /// or used meanwhile: the code it replaced comes back if it is still valid, with its
    /// attempts added to those counted since; otherwise the number is left without a code.
    pub async fn withdraw_code(
        &self,
        key: &PhoneKey,
        sent: &CodeHash,
        previous: Option<&PendingCode>,
        now: u64,
    ) -> Result<(), StoreError> {
        match previous.filter(|p| p.expires_at > now) {
            Some(p) => {
                self.update(
                    key.as_str(),
                    "SET code_hash = :old, code_expires_at = :old_exp, \
                     attempts = attempts + :old_attempts",
                    "code_hash = :h",
                    vec![
                        (":h", b(sent)),
                        (":old", b(&p.hash)),
                        (":old_exp", n(p.expires_at)),
                        (":old_attempts", n(p.attempts)),
                    ],
                    ReturnValue::None,
                )
                .await?
            }
            None => {
                self.update(
                    key.as_str(),
                    "REMOVE code_hash, code_expires_at",
                    "code_hash = :h",
                    vec![(":h", b(sent))],
                    ReturnValue::None,
                )
                .await?
            }
        };
        Ok(())
    }
}

/// A send applied: what the item held before it tells which code it replaced.
fn stored(old: &Item, now: u64) -> SendDecision {
    SendDecision::Stored {
        previous: State::from_item(old).pending_code(now),
    }
}

fn conditional(
    result: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        SdkError<UpdateItemError, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<Conditional, StoreError> {
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
            max_consecutive_failures: 100,
            lockout: 86_400,
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
    fn sharded_counters_split_the_budget_exactly() {
        let shares = |budget| {
            ShardedCounter::new("global", budget, 60, 1_000_000)
                .shards()
                .iter()
                .map(|(_, limit)| limit.bound())
                .collect::<Vec<_>>()
        };
        assert_eq!(shares(1), vec![1]);
        assert_eq!(shares(50), vec![50]);
        assert_eq!(shares(60), vec![30, 30]);
        assert_eq!(shares(101), vec![34, 34, 33]);
        assert_eq!(shares(1000), vec![50; 20]);
        let big = shares(10_000);
        assert_eq!(big.len(), MAX_SHARDS as usize);
        assert_eq!(big.iter().sum::<u64>(), 10_000);
        let keys: Vec<_> = ShardedCounter::new("global", 60, 60, 1_000_030)
            .shards()
            .iter()
            .map(|(c, _)| c.key().to_owned())
            .collect();
        assert_eq!(keys, ["global#shard0#16667", "global#shard1#16667"]);
    }

    #[test]
    fn a_run_of_failures_counts_until_it_resets_and_locks_at_its_limit() {
        let l = limits();
        let s = State::from_item(&item(&[
            ("consecutive_failures", 100),
            ("consecutive_failures_reset_at", 5000),
            ("last_sent_at", 1000),
        ]));
        assert!(s.locked(&l, 4999));
        assert_eq!(s.retry_after(&l, 1000), 4000);
        assert!(!s.locked(&l, 5000));
        assert!(s.streak_stale(5000));
        assert!(!s.streak_stale(4999));
        assert_eq!(s.streak(4999), 100);
        assert_eq!(s.streak(5000), 0);
        let legacy = State::from_item(&item(&[("attempts", 1)]));
        assert!(legacy.streak_stale(0));
        let fresh = State::from_item(&item(&[("consecutive_failures", 0)]));
        assert!(!fresh.streak_stale(10));
    }

    #[test]
    fn a_refused_guess_waits_for_what_refused_it_never_for_when_a_code_was_sent() {
        let l = limits();
        let spent = |pairs: &[(&str, u64)]| State::from_item(&item(pairs));
        for sent in [0, 990] {
            let attempts = spent(&[("attempts", 5), ("last_sent_at", sent)]);
            assert_eq!(attempts.guess_retry_after(&l, 1000), 30);
            let failures = spent(&[("failures_in_window", 10), ("window_started_at", sent)]);
            assert_eq!(failures.guess_retry_after(&l, 1000), 3600);
        }
        let locked = spent(&[
            ("consecutive_failures", 100),
            ("consecutive_failures_reset_at", 90_000),
        ]);
        assert_eq!(locked.guess_retry_after(&l, 1000), 89_000);
        assert_eq!(State::default().guess_retry_after(&l, 1000), 1);
    }

    #[test]
    fn a_guess_matches_only_a_live_code() {
        let hash = CodeHash::from_bytes(&[7u8; 32]).unwrap();
        let mut it = item(&[("code_expires_at", 1300)]);
        it.insert("code_hash".into(), AttributeValue::B(Blob::new([7u8; 32])));
        let s = State::from_item(&it);
        assert!(s.matches(&hash, 1299));
        assert!(!s.matches(&hash, 1300));
        assert!(!s.matches(&CodeHash::from_bytes(&[8u8; 32]).unwrap(), 1299));
        assert!(!State::default().matches(&CodeHash::ABSENT, 0));
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
