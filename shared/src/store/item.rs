//! The phone item: what DynamoDB holds for one number, and the rules read from it.
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
//! | `message_ref`                   | S    | random reference of the pending code's message, named in its status URL (receipts on) |
//! | `message_uuid`                  | S    | Plivo's id of that message, from its first status report |
//! | `delivery_status`               | S    | its latest reported status: `queued`, `sent`, `delivered`, `undelivered`, `failed` |
//! | `delivery_error`                | N    | Plivo's error code with a failed or undelivered status |
//! | `delivery_sequence`             | N    | the report's sequence number: an older report never overwrites a newer one |
//! | `delivery_updated_at`           | N    | epoch seconds of that report's arrival |
//! | `vid`                           | B    | keyed digest (128 bits) of the pending code's verification id |
//! | `vid_state`                     | S    | `open`, or how that verification ended: `approved`, `canceled` |
//! | `prev_vid`                      | B    | the digest of the verification before it (S `none` when there was none) |
//! | `prev_vid_state`                | S    | its state when the current code replaced it |
//! | `prev_attempts`                 | N    | the guesses counted on its code by then |
//!
//! A new code clears the message and delivery attributes; a withdrawn one puts back the
//! reference of the code it restores.
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

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{CodeHash, HOUR, Limits, VerificationDigest, VerificationStatus};

pub(super) type Item = HashMap<String, AttributeValue>;

/// The partition key of every item.
pub(super) const PARTITION_KEY: &str = "pk";
/// The attribute DynamoDB's TTL reads (on every item).
pub const TTL_ATTRIBUTE: &str = "ttl";
/// The per-number window, in seconds.
const WINDOW: u64 = HOUR;

/// The states of `vid_state`.
pub(super) const OPEN: &str = "open";
pub(super) const APPROVED: &str = "approved";
pub(super) const CANCELED: &str = "canceled";
/// What `vid` and `prev_vid` hold where there was no verification (a code from before ids):
/// a string, which no digest (binary) equals.
pub(super) const NO_VID: &str = "none";

/// When DynamoDB may delete a phone item written at `now`: after everything it counts (the
/// window, the code, the run of consecutive failures) has run out, and its verifications'
/// states are no longer asked for.
pub(super) fn item_ttl(limits: &Limits, now: u64) -> u64 {
    now + WINDOW
        .max(limits.code_ttl)
        .max(limits.lockout)
        .max(limits.verification_retention)
}

/// How a verification stands, as the store can tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerificationRecord {
    pub status: VerificationStatus,
    /// Guesses that will still be compared (0 unless pending).
    pub attempts_left: u64,
    /// When its code expires, while pending.
    pub expires_at: Option<u64>,
}

impl VerificationRecord {
    fn ended(status: VerificationStatus) -> Self {
        Self {
            status,
            attempts_left: 0,
            expires_at: None,
        }
    }
}

/// A code that was pending when a new one replaced it, kept so a failed send can put it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCode {
    pub(super) hash: CodeHash,
    pub(super) expires_at: u64,
    pub(super) attempts: u64,
    pub(super) message_ref: Option<String>,
    /// Its verification's digest (none for a code stored before ids).
    pub(super) vid: Option<VerificationDigest>,
}

/// The numbers the store keeps for a phone number, as read back from an item.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) code_hash: Option<CodeHash>,
    pub(super) code_expires_at: u64,
    pub(super) attempts: u64,
    pub(super) last_sent_at: u64,
    pub(super) window_started_at: u64,
    pub(super) sends_in_window: u64,
    pub(super) failures_in_window: u64,
    /// `None` on items written before the count existed.
    pub(super) consecutive_failures: Option<u64>,
    pub(super) consecutive_failures_reset_at: u64,
    /// The request that consumed the last code, for a consume retried after a lost answer.
    pub(super) consumed_by: Option<String>,
    /// The reference of the pending code's message, when receipts are on.
    pub(super) message_ref: Option<String>,
    pub(super) vid: Option<VerificationDigest>,
    pub(super) vid_state: Option<String>,
    pub(super) prev_vid: Option<VerificationDigest>,
    pub(super) prev_vid_state: Option<String>,
    pub(super) prev_attempts: u64,
}

fn digest(item: &Item, name: &str) -> Option<VerificationDigest> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .and_then(|b| VerificationDigest::from_bytes(b.as_ref()))
}

fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

impl State {
    pub(super) fn from_item(item: &Item) -> Self {
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
            consumed_by: text(item, "consumed_by"),
            message_ref: text(item, "message_ref"),
            vid: digest(item, "vid"),
            vid_state: text(item, "vid_state"),
            prev_vid: digest(item, "prev_vid"),
            prev_vid_state: text(item, "prev_vid_state"),
            prev_attempts: n("prev_attempts"),
        }
    }

    pub(super) fn window_open(&self, now: u64) -> bool {
        self.window_started_at + WINDOW > now
    }

    /// The number's hourly send cap is reached. (Wrong guesses never stop a send: the code
    /// a send stores has its own attempts, whatever strangers guessed before it.)
    pub(super) fn budget_spent(&self, limits: &Limits, now: u64) -> bool {
        self.window_open(now) && self.sends_in_window >= limits.max_sends_per_hour.bound()
    }

    /// Consecutive failures that still count at `now`.
    pub(super) fn streak(&self, now: u64) -> u64 {
        if self.consecutive_failures_reset_at > now {
            self.consecutive_failures.unwrap_or(0)
        } else {
            0
        }
    }

    pub(super) fn locked(&self, limits: &Limits, now: u64) -> bool {
        self.streak(now) >= u64::from(limits.max_consecutive_failures)
    }

    /// The stored run of failures is over (or predates the count) but not yet zeroed.
    pub(super) fn streak_stale(&self, now: u64) -> bool {
        match self.consecutive_failures {
            None => true,
            Some(count) => count > 0 && self.consecutive_failures_reset_at <= now,
        }
    }

    /// Seconds until a send for this number can succeed (at least 1).
    pub(super) fn retry_after(&self, limits: &Limits, now: u64) -> u64 {
        let mut at = self.last_sent_at + limits.resend_cooldown;
        if self.budget_spent(limits, now) {
            at = at.max(self.window_started_at + WINDOW);
        }
        if self.locked(limits, now) {
            at = at.max(self.consecutive_failures_reset_at);
        }
        at.saturating_sub(now).max(1)
    }

    /// Seconds until a guess can count again, for a verify refused or exhausted: from the
    /// counts and the lock only (upper bounds), never from when a code was sent, so the value
    /// is the same for a number with a pending code and one without.
    pub(super) fn guess_retry_after(&self, limits: &Limits, by_number: bool, now: u64) -> u64 {
        let mut wait = 0;
        if self.attempts >= u64::from(limits.max_attempts) {
            wait = limits.resend_cooldown;
        }
        if by_number && self.failures_in_window >= limits.max_failures_per_hour.bound() {
            wait = wait.max(WINDOW);
        }
        if self.locked(limits, now) {
            wait = wait.max(self.consecutive_failures_reset_at - now);
        }
        wait.max(1)
    }

    /// The per-code guess limit, and for a guess by number (no verification id) the
    /// number's hourly failure budget, as they stand.
    pub(super) fn guesses_left(&self, limits: &Limits, by_number: bool) -> bool {
        self.attempts < u64::from(limits.max_attempts)
            && !(by_number && self.failures_in_window >= limits.max_failures_per_hour.bound())
    }

    /// After this guess was counted, no further guess will be.
    pub(super) fn guesses_exhausted(&self, limits: &Limits, by_number: bool, now: u64) -> bool {
        !self.guesses_left(limits, by_number) || self.locked(limits, now)
    }

    /// Whether `digest` names the verification of the pending code, still open.
    pub(super) fn is_open(&self, digest: &VerificationDigest) -> bool {
        self.vid.as_ref() == Some(digest) && self.vid_state.as_deref() == Some(OPEN)
    }

    /// How the verification `digest` names, issued at `issued_at`, stands at `now`; none
    /// when the item shows it cannot be one of its own, or that its retention is over. One
    /// the item no longer holds has expired (a newer code replaced the one after it), if a
    /// code was sent at or after its issue: an id tells its time of issue only modulo two
    /// weeks, and an older one must not read as a recent one.
    pub(super) fn verification(
        &self,
        digest: &VerificationDigest,
        issued_at: u64,
        limits: &Limits,
        now: u64,
    ) -> Option<VerificationRecord> {
        let max_attempts = u64::from(limits.max_attempts);
        let ended = |state: Option<&str>, attempts: u64| match state {
            Some(APPROVED) => VerificationStatus::Approved,
            Some(CANCELED) => VerificationStatus::Canceled,
            _ if attempts >= max_attempts => VerificationStatus::MaxAttemptsReached,
            _ => VerificationStatus::Expired,
        };
        // Every verification the item names was opened at or before its last send.
        if self.last_sent_at + limits.verification_retention <= now {
            return None;
        }
        if self.vid.as_ref() != Some(digest) {
            if self.prev_vid.as_ref() == Some(digest) {
                let status = ended(self.prev_vid_state.as_deref(), self.prev_attempts);
                return Some(VerificationRecord::ended(status));
            }
            let replaced = self.last_sent_at >= issued_at;
            return replaced.then(|| VerificationRecord::ended(VerificationStatus::Expired));
        }
        if !self.is_open(digest) || self.attempts >= max_attempts || !self.has_live_code(now) {
            let status = ended(self.vid_state.as_deref(), self.attempts);
            return Some(VerificationRecord::ended(status));
        }
        let consecutive_left =
            u64::from(limits.max_consecutive_failures).saturating_sub(self.streak(now));
        Some(VerificationRecord {
            status: VerificationStatus::Pending,
            attempts_left: (max_attempts - self.attempts).min(consecutive_left),
            expires_at: Some(self.code_expires_at),
        })
    }

    /// Whether `digest` names the verification a newer code replaced, still open: a send that
    /// fails would bring it back.
    pub(super) fn replaced_and_open(&self, digest: &VerificationDigest) -> bool {
        self.prev_vid.as_ref() == Some(digest) && self.prev_vid_state.as_deref() == Some(OPEN)
    }

    pub(super) fn has_live_code(&self, now: u64) -> bool {
        self.code_hash.is_some() && self.code_expires_at > now
    }

    /// Whether `guess` is the live code. The same constant-time work whether or not a code
    /// is pending.
    pub(super) fn matches(&self, guess: &CodeHash, now: u64) -> bool {
        let stored = self.code_hash.as_ref().unwrap_or(&CodeHash::ABSENT);
        let same = stored.ct_eq(guess);
        same & self.has_live_code(now)
    }

    pub(super) fn pending_code(&self, now: u64) -> Option<PendingCode> {
        let hash = self.code_hash.clone().filter(|_| self.has_live_code(now))?;
        Some(PendingCode {
            hash,
            expires_at: self.code_expires_at,
            attempts: self.attempts,
            message_ref: self.message_ref.clone(),
            vid: self.vid.clone(),
        })
    }
}

pub(super) fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn b(hash: &CodeHash) -> AttributeValue {
    AttributeValue::B(Blob::new(hash.as_bytes()))
}

pub(super) fn vid(digest: &VerificationDigest) -> AttributeValue {
    AttributeValue::B(Blob::new(digest.as_bytes()))
}

pub(super) fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Limit;

    fn limits() -> Limits {
        Limits {
            code_ttl: 300,
            max_attempts: 5,
            resend_cooldown: 30,
            max_sends_per_hour: Limit::AtMost(5),
            max_failures_per_hour: Limit::AtMost(10),
            max_consecutive_failures: 100,
            lockout: 86_400,
            verification_retention: 86_400,
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
    fn retry_after_runs_to_the_end_of_the_window_when_its_send_cap_is_reached() {
        let s = State::from_item(&item(&[
            ("last_sent_at", 1000),
            ("window_started_at", 900),
            ("sends_in_window", 5),
        ]));
        assert_eq!(s.retry_after(&limits(), 1010), 900 + 3600 - 1010);
        // Wrong guesses never hold a send back: only the cooldown does.
        let s = State::from_item(&item(&[
            ("last_sent_at", 1000),
            ("window_started_at", 900),
            ("failures_in_window", 10),
        ]));
        assert_eq!(s.retry_after(&limits(), 1010), 20);
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
            assert_eq!(attempts.guess_retry_after(&l, true, 1000), 30);
            assert_eq!(attempts.guess_retry_after(&l, false, 1000), 30);
            let failures = spent(&[("failures_in_window", 10), ("window_started_at", sent)]);
            assert_eq!(failures.guess_retry_after(&l, true, 1000), 3600);
            // The hourly failure budget binds guesses by number only.
            assert_eq!(failures.guess_retry_after(&l, false, 1000), 1);
            assert!(failures.guesses_left(&l, false));
            assert!(!failures.guesses_left(&l, true));
        }
        let locked = spent(&[
            ("consecutive_failures", 100),
            ("consecutive_failures_reset_at", 90_000),
        ]);
        assert_eq!(locked.guess_retry_after(&l, false, 1000), 89_000);
        assert_eq!(State::default().guess_retry_after(&l, true, 1000), 1);
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
        l.max_sends_per_hour = Limit::Off;
        let s = State::from_item(&item(&[
            ("window_started_at", 900),
            ("sends_in_window", 5000),
        ]));
        assert!(!s.budget_spent(&l, 1000));
    }
}
