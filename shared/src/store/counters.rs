//! Counters beyond a single number (per client IP, per number range, the deployment's budget):
//! one item per subject and time bucket, each write conditional on the limit.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use rand::seq::SliceRandom;

use super::dynamodb::{COUNT, DynamoDbStore, TTL, Write};
use super::item::n;
use super::{BudgetStore, Failure, Result, Taken};
use crate::domain::{CounterKind, Limit};

/// Seconds a counter item outlives its bucket before DynamoDB may delete it.
const COUNTER_GRACE: u64 = 60;

/// The most sends one shard of a budget takes per bucket: even a whole bucket's share arriving
/// within one second is 50 writes to its key, a twentieth of the 1,000 writes a second DynamoDB
/// serves per partition key.
const SHARD_SHARE: u32 = 50;
/// The most shards of a budget: 64 x 50 = 3,200 sends per bucket before shares grow.
const MAX_SHARDS: u32 = 64;
/// Shards one request tries before it is refused: a full (or throttled) shard sends it to
/// another, without multiplying the writes of every refused request by the shard count.
const SHARD_TRIES: usize = 3;

/// One counter item: a subject (a hashed IP, a hashed prefix, a shard of the deployment's
/// budget) in one time bucket. Its key never collides with a phone item's (64 hex digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    key: String,
    /// Epoch seconds at which the bucket ends and a fresh counter starts.
    ends_at: u64,
}

impl Counter {
    /// The counter for `subject` in the `period`-second bucket that holds `now`.
    fn new(kind: CounterKind, subject: &str, period: u64, now: u64) -> Self {
        let bucket = now / period;
        Self {
            key: format!("{}#{subject}#{bucket}", kind.as_str()),
            ends_at: (bucket + 1) * period,
        }
    }
}

/// A limit on some kind of request per time bucket, held in one counter or, for a budget too
/// busy for one key (DynamoDB throttles a key at about 1,000 writes a second), spread over
/// several counters whose limits add up to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    kind: CounterKind,
    shards: Vec<(Counter, Limit)>,
}

impl Budget {
    /// `limit` units for `subject` per `period`-second bucket, in one counter.
    pub(crate) fn one(
        kind: CounterKind,
        subject: &str,
        limit: Limit,
        period: u64,
        now: u64,
    ) -> Self {
        Self {
            kind,
            shards: vec![(Counter::new(kind, subject, period, now), limit)],
        }
    }

    /// `limit` units per `period`-second bucket, spread over `ceil(limit / SHARD_SHARE)`
    /// counters (at most [`MAX_SHARDS`]) whose limits add up to `limit` exactly.
    pub(crate) fn sharded(kind: CounterKind, limit: u32, period: u64, now: u64) -> Self {
        let n = limit.div_ceil(SHARD_SHARE).clamp(1, MAX_SHARDS);
        let shards = (0..n)
            .map(|i| {
                let share = limit / n + u32::from(i < limit % n);
                let counter = Counter::new(kind, &format!("shard{i}"), period, now);
                (counter, Limit::AtMost(share))
            })
            .filter(|(_, share)| *share != Limit::AtMost(0))
            .collect();
        Self { kind, shards }
    }

    pub(crate) fn kind(&self) -> CounterKind {
        self.kind
    }

    /// The budget's first counter, for fakes of the store.
    #[cfg(test)]
    pub(crate) fn first_counter(&self) -> Counter {
        self.shards[0].0.clone()
    }
}

impl BudgetStore for DynamoDbStore {
    /// Takes one unit from a random counter of `budget`, and when it is full (or throttled)
    /// from another, up to [`SHARD_TRIES`]. The counter taken from, or the seconds until the
    /// bucket ends.
    async fn take(&self, budget: &Budget, now: u64) -> Result<Taken> {
        let mut order: Vec<&(Counter, Limit)> = budget.shards.iter().collect();
        order.shuffle(&mut rand::rng());
        let mut retry_after = 1;
        for (counter, limit) in order.into_iter().take(SHARD_TRIES) {
            match self.take_from(counter, *limit, now).await? {
                None => return Ok(Ok(counter.clone())),
                Some(seconds) => retry_after = seconds,
            }
        }
        Ok(Err(retry_after))
    }

    /// Returns a unit taken by [`take`](Self::take) for a request that went no further. Not
    /// retried: a retry after a lost answer could return the unit twice.
    async fn give_back(&self, counter: &Counter) -> Result<()> {
        self.update_once(
            &counter.key,
            Write::new(
                "ADD #count :minus_one",
                "#count > :zero",
                &[COUNT],
                vec![
                    (":minus_one", AttributeValue::N("-1".into())),
                    (":zero", n(0)),
                ],
            ),
        )
        .await?;
        Ok(())
    }
}

impl DynamoDbStore {
    /// Takes one unit from a counter unless it has reached `limit`. `None` when taken,
    /// otherwise the seconds until the counter's bucket ends. One conditional write, not
    /// retried: a counter key DynamoDB throttles is one far beyond any limit, and counts as
    /// full.
    async fn take_from(&self, counter: &Counter, limit: Limit, now: u64) -> Result<Option<u64>> {
        let result = self
            .update_once(
                &counter.key,
                Write::new(
                    "ADD #count :one SET #ttl = :ttl",
                    "attribute_not_exists(#count) OR #count < :limit",
                    &[COUNT, TTL],
                    vec![
                        (":one", n(1)),
                        (":ttl", n(counter.ends_at + COUNTER_GRACE)),
                        (":limit", n(limit.bound())),
                    ],
                ),
            )
            .await;
        let full = Some(counter.ends_at.saturating_sub(now).max(1));
        match result {
            Ok(true) => Ok(None),
            Ok(false) => Ok(full),
            Err(e) if e.kind() == Failure::Throttled => {
                tracing::warn!(error.message = %DisplayErrorContext(&e), "counter throttled; counted as full");
                Ok(full)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CounterKind::Global;

    #[test]
    fn counters_are_bucketed_by_period() {
        let c = Counter::new(Global, "all", 60, 1_000_030);
        assert_eq!(c.key, "global#all#16667");
        assert_eq!(c.ends_at, 1_000_020 + 60);
        assert_eq!(Counter::new(Global, "all", 60, 1_000_079), c);
        assert_ne!(Counter::new(Global, "all", 60, 1_000_080), c);
    }

    #[test]
    fn sharded_budgets_split_the_limit_exactly() {
        let shares = |limit| {
            Budget::sharded(Global, limit, 60, 1_000_000)
                .shards
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
        let keys: Vec<_> = Budget::sharded(Global, 60, 60, 1_000_030)
            .shards
            .iter()
            .map(|(c, _)| c.key.clone())
            .collect();
        assert_eq!(keys, ["global#shard0#16667", "global#shard1#16667"]);
    }
}
