//! Guesses on a phone item: each counted on every counter at once before it is compared, and
//! a match consumed once. A guess by verification id counts only while its verification is
//! the open one; a guess by number also against the number's hourly failure budget.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use rand::RngExt;

use super::dynamodb::{Conditional, DynamoDbStore, TTL, Write};
use super::item::{APPROVED, OPEN, State, b, item_ttl, n, s, vid};
use super::{Guessed, Result, VerifyDecision};
use crate::domain::{CodeHash, PhoneKey};

/// What counting a guess came to.
pub(super) enum Counted {
    /// Counted: the item after the count.
    Yes(Box<State>),
    /// Not counted, a limit being reached: the seconds until a guess can count again.
    Refused(u64),
    /// Not counted: the verification named is not the open one.
    NotOpen,
}
/// A guess, counted on every counter at once (creating the item when the number is new).
const COUNT_SET: &str = "attempts = if_not_exists(attempts, :zero) + :one, \
     failures_in_window = if_not_exists(failures_in_window, :zero) + :one, \
     window_started_at = if_not_exists(window_started_at, :now), \
     last_sent_at = if_not_exists(last_sent_at, :zero), \
     sends_in_window = if_not_exists(sends_in_window, :zero), \
     consecutive_failures_reset_at = :reset_at, #ttl = :ttl";

/// Guesses left on the code and (by number) in the window.
const UNDER_NUMBER_LIMITS: &str = "attempts < :max_attempts AND failures_in_window < :max_failures";
/// Guesses left on the code of the open verification named.
const UNDER_VERIFICATION_LIMITS: &str =
    "vid = :vid AND vid_state = :open AND attempts < :max_attempts";

/// The consecutive failures let a guess count: none yet, or a run under its limit.
const STREAK_UNDER_LIMIT: &str = "(consecutive_failures = :zero OR \
     (consecutive_failures < :max_consecutive AND consecutive_failures_reset_at > :now))";
/// The run of consecutive failures is over (or predates the count): a guess starts a new one.
const STREAK_OVER: &str =
    "(attribute_not_exists(consecutive_failures) OR consecutive_failures_reset_at <= :now)";

impl DynamoDbStore {
    /// Counts a guess on every counter while all are below their limits, and returns the
    /// item as it is after the count. `restart` starts a new run of consecutive failures
    /// over one that has run out.
    async fn count_guess(
        &self,
        key: &PhoneKey,
        guessed: Guessed<'_>,
        now: u64,
        restart: bool,
    ) -> Result<Conditional> {
        let l = &self.limits;
        let mut values = vec![
            (":now", n(now)),
            (":zero", n(0)),
            (":one", n(1)),
            (":reset_at", n(now + l.lockout)),
            (":ttl", n(item_ttl(l, now))),
            (":max_attempts", n(u64::from(l.max_attempts))),
        ];
        let under = match guessed {
            Guessed::Number => {
                values.push((":max_failures", n(l.max_failures_per_hour.bound())));
                UNDER_NUMBER_LIMITS
            }
            Guessed::Verification(digest) => {
                values.push((":vid", vid(digest)));
                values.push((":open", s(OPEN)));
                UNDER_VERIFICATION_LIMITS
            }
        };
        // Only a guess by number counts on a number without an item (a guess by id names an
        // item that exists).
        let new_item = match guessed {
            Guessed::Number => "attribute_not_exists(pk) OR ",
            Guessed::Verification(_) => "",
        };
        let (update, condition) = if restart {
            (
                format!("SET {COUNT_SET}, consecutive_failures = :one"),
                format!("{under} AND {STREAK_OVER}"),
            )
        } else {
            values.push((":max_consecutive", n(u64::from(l.max_consecutive_failures))));
            (
                format!(
                    "SET {COUNT_SET}, \
                     consecutive_failures = if_not_exists(consecutive_failures, :zero) + :one"
                ),
                format!("{new_item}({under} AND {STREAK_UNDER_LIMIT})"),
            )
        };
        let write = Write::new(&update, &condition, &[TTL], values);
        self.update(key.as_str(), write, ReturnValue::AllNew).await
    }

    /// Counts a guess: the item after the count, or why it was not counted. A count refused
    /// while the item is under every limit is tried again (at most twice): as a restart when
    /// the run of consecutive failures has run out, as a plain count when a concurrent guess
    /// changed the item first.
    pub(super) async fn count(
        &self,
        key: &PhoneKey,
        guessed: Guessed<'_>,
        now: u64,
    ) -> Result<Counted> {
        let l = &self.limits;
        let by_number = guessed == Guessed::Number;
        let mut restart = false;
        let mut state = State::default();
        for _ in 0..3 {
            match self.count_guess(key, guessed, now, restart).await? {
                Conditional::Applied(item) => {
                    return Ok(Counted::Yes(Box::new(State::from_item(&item))));
                }
                Conditional::Refused(returned) => state = self.read(key, returned).await?,
            }
            if let Guessed::Verification(digest) = guessed
                && !state.is_open(digest)
            {
                return Ok(Counted::NotOpen);
            }
            if !state.guesses_left(l, by_number) || state.locked(l, now) {
                break;
            }
            // Under the limits: the item changed since (or the run had run out). Count
            // again, as the item now asks.
            restart = state.streak_stale(now);
        }
        Ok(Counted::Refused(state.guess_retry_after(l, by_number, now)))
    }

    /// Uses up the code a counted guess matched, unless a concurrent guess did first. The
    /// guess was counted as a failure; it is taken back off the attempts and the window (so
    /// a used code leaves the number as a number that never had one), and the run of
    /// consecutive failures ends.
    pub(super) async fn consume(
        &self,
        key: &PhoneKey,
        hash: &CodeHash,
        now: u64,
    ) -> Result<VerifyDecision> {
        // Marks the item as consumed by this request, so that when the SDK retries the write
        // after an answer was lost, the refused retry still knows the code was ours.
        let token = format!("{:016x}", rand::rng().random::<u64>());
        let write = Write::new(
            "REMOVE code_hash, code_expires_at \
             SET consecutive_failures = :zero, failures_in_window = failures_in_window - :one, \
             attempts = attempts - :one, consumed_by = :token, vid_state = :approved",
            "code_hash = :h AND code_expires_at > :now AND failures_in_window >= :one \
             AND attempts >= :one",
            &[],
            vec![
                (":h", b(hash)),
                (":now", n(now)),
                (":zero", n(0)),
                (":one", n(1)),
                (":token", AttributeValue::S(token.clone())),
                (":approved", s(APPROVED)),
            ],
        );
        Ok(
            match self.update(key.as_str(), write, ReturnValue::None).await? {
                Conditional::Applied(_) => VerifyDecision::Verified,
                Conditional::Refused(returned) => {
                    let state = self.read(key, returned).await?;
                    if state.consumed_by.as_deref() == Some(token.as_str()) {
                        VerifyDecision::Verified
                    } else {
                        VerifyDecision::Rejected
                    }
                }
            },
        )
    }
}
