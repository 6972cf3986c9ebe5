//! Where codes and counts live: the [`OtpStore`] the use cases depend on, and its DynamoDB
//! implementation.
//!
//! One item per phone number, changed only by single-item conditional writes, so every
//! per-number rule holds under any number of concurrent requests; and one item per counter
//! (client IP, number range, the deployment's budget) and time bucket. `item.rs` lists the
//! phone item's attributes.

mod client;
mod codes;
mod counters;
mod dynamodb;
mod guesses;
mod item;
mod receipts;
mod verifications;

use std::future::Future;

use client::dynamodb_client;
pub use client::dynamodb_timeouts;
pub use counters::{Budget, Counter};
pub use dynamodb::DynamoDbStore;
pub use item::{PendingCode, TTL_ATTRIBUTE, VerificationRecord};
pub use receipts::RECEIPT_ATTRIBUTES;

use crate::domain::{CodeHash, MessageRef, PhoneKey, Receipt, VerificationDigest};

/// A store request that did not complete: what kind of failure, and the SDK's error, with
/// its detail, as the source.
#[derive(Debug, thiserror::Error)]
#[error("dynamodb {kind}")]
pub struct StoreError {
    kind: Failure,
    #[source]
    source: BoxError,
}

/// What a failed store request means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Timeouts, network failures, 5xx: worth trying again later.
    Unavailable,
    /// DynamoDB refused the request for its rate (the key, table or account is throttled).
    Throttled,
    /// Anything else (missing table, access denied, validation): a deployment problem.
    Failed,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Failure::Unavailable => "unavailable",
            Failure::Throttled => "throttled the request",
            Failure::Failed => "request failed",
        })
    }
}

impl StoreError {
    pub(crate) fn new(kind: Failure, source: BoxError) -> Self {
        Self { kind, source }
    }

    pub fn kind(&self) -> Failure {
        self.kind
    }
}

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The outcome of a store request.
pub type Result<T> = std::result::Result<T, StoreError>;

/// A code to store: its hash, its verification's digest, and with receipts on the reference
/// its message's delivery reports name.
#[derive(Debug, Clone, Copy)]
pub struct NewCode<'a> {
    pub hash: &'a CodeHash,
    pub verification: &'a VerificationDigest,
    pub message_ref: Option<&'a MessageRef>,
}

/// What a guess names: the number's pending code, or one verification's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guessed<'a> {
    /// Whichever code is pending for the number. Its guesses also count against the number's
    /// hourly failure budget.
    Number,
    /// The code of this verification only, while it is the pending one and open.
    Verification(&'a VerificationDigest),
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

/// The budgets beyond one number (per client, per range, per deployment): units taken and
/// given back.
pub trait BudgetStore: Send + Sync {
    /// Takes one unit from `budget` unless it is full: the counter the unit came from, or the
    /// seconds until the budget has room again.
    fn take(&self, budget: &Budget, now: u64) -> impl Future<Output = Result<Taken>> + Send;

    /// Returns a unit taken for a request that went no further.
    fn give_back(&self, unit: &Counter) -> impl Future<Output = Result<()>> + Send;
}

/// A unit taken from a budget, or the seconds until the budget has room.
pub type Taken = std::result::Result<Counter, u64>;

/// What the use cases need of storage: the budgets, and the codes of each number. Every
/// method is safe under concurrency: the rules it enforces hold whatever runs beside it.
pub trait OtpStore: BudgetStore + VerificationStore {
    /// Stores a new code for the number, as a new verification ending the one before it,
    /// unless its cooldown, send cap or lock forbids it. With a message reference, the code's
    /// delivery reports are linked to it (see [`ReceiptStore`]).
    fn store_code(
        &self,
        key: &PhoneKey,
        code: NewCode<'_>,
        now: u64,
    ) -> impl Future<Output = Result<SendDecision>> + Send;

    /// Takes back the code just stored when it could not be delivered, unless it was replaced
    /// or used meanwhile; the code it replaced comes back if still valid.
    fn withdraw_code(
        &self,
        key: &PhoneKey,
        sent: &CodeHash,
        previous: Option<&PendingCode>,
        now: u64,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Counts a guess, then accepts it if it is the live code of what it names, once.
    fn verify(
        &self,
        key: &PhoneKey,
        guessed: Guessed<'_>,
        guess: &CodeHash,
        now: u64,
    ) -> impl Future<Output = Result<VerifyDecision>> + Send;
}

/// A verification by its id, on the item of the number its id names.
pub trait VerificationStore: Send + Sync {
    /// How the verification `digest` names (issued at `issued_at`) stands: one strongly
    /// consistent read. None when the item shows it is not one of its own.
    fn verification(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        issued_at: u64,
        now: u64,
    ) -> impl Future<Output = Result<Option<VerificationRecord>>> + Send;

    /// Ends the verification `digest` names if it is pending, or replaced by a send that may
    /// still fail: its code never verifies afterwards. How it stands afterwards; one that was
    /// over is left as it was.
    fn cancel(
        &self,
        key: &PhoneKey,
        digest: &VerificationDigest,
        issued_at: u64,
        now: u64,
    ) -> impl Future<Output = Result<Option<VerificationRecord>>> + Send;
}

/// What the status callback needs of storage.
pub trait ReceiptStore: Send + Sync {
    /// Records `receipt` on the number's item if its pending code's message is `message_ref`
    /// and the receipt is newer than the one recorded. Whether it was recorded.
    fn record_delivery(
        &self,
        key: &PhoneKey,
        message_ref: &MessageRef,
        receipt: &Receipt,
        now: u64,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Notes `id` (a callback's identity) as seen until `until`: true the first time, false
    /// for every later call while the note lasts.
    fn first_sighting(&self, id: &str, until: u64) -> impl Future<Output = Result<bool>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_reads_as_what_it_means_for_the_caller() {
        let error = |kind| StoreError::new(kind, "detail".into()).to_string();
        assert_eq!(error(Failure::Unavailable), "dynamodb unavailable");
        assert_eq!(error(Failure::Throttled), "dynamodb throttled the request");
        assert_eq!(error(Failure::Failed), "dynamodb request failed");
    }
}
