//! The stopwatch of one invocation: how long its calls to each dependency took, summed. The
//! adapters time their calls with [`timed`]; whoever runs an invocation reads the sums with
//! [`scope`]. A tokio task-local, so concurrent invocations never mix their times.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// A dependency whose calls are timed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dependency {
    DynamoDb,
    Plivo,
}

/// Time spent in each dependency during one invocation: none for one never called.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spent {
    pub(crate) dynamodb: Option<Duration>,
    pub(crate) plivo: Option<Duration>,
}

#[derive(Default)]
struct Timings(Cell<Spent>);

impl Timings {
    fn add(&self, dependency: Dependency, elapsed: Duration) {
        let mut spent = self.0.get();
        let slot = match dependency {
            Dependency::DynamoDb => &mut spent.dynamodb,
            Dependency::Plivo => &mut spent.plivo,
        };
        *slot = Some(slot.unwrap_or_default() + elapsed);
        self.0.set(spent);
    }
}

tokio::task_local! {
    static TIMINGS: Timings;
}

/// Runs `call`, adding its duration to the current invocation's time in `dependency` (outside
/// a [`scope`], nothing is added).
pub(crate) async fn timed<F: Future>(dependency: Dependency, call: F) -> F::Output {
    let start = Instant::now();
    let output = call.await;
    let _ = TIMINGS.try_with(|t| t.add(dependency, start.elapsed()));
    output
}

/// Runs one invocation's `work` with a stopwatch of its own; its output and the time spent.
pub(crate) async fn scope<F: Future>(work: F) -> (F::Output, Spent) {
    TIMINGS
        .scope(Timings::default(), async {
            let out = work.await;
            (out, TIMINGS.with(|t| t.0.get()))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_scope_sums_its_own_calls() {
        let slow = scope(async {
            timed(
                Dependency::DynamoDb,
                tokio::time::sleep(Duration::from_millis(20)),
            )
            .await;
            timed(
                Dependency::DynamoDb,
                tokio::time::sleep(Duration::from_millis(10)),
            )
            .await;
        });
        let quick = scope(timed(Dependency::Plivo, async {}));
        let (((), slow), ((), quick)) = tokio::join!(slow, quick);
        assert!(
            slow.dynamodb.unwrap() >= Duration::from_millis(30),
            "{slow:?}"
        );
        assert_eq!(slow.plivo, None);
        assert_eq!(quick.dynamodb, None);
        assert!(quick.plivo.is_some());
        // Outside a scope a timed call still runs, and counts nowhere.
        assert_eq!(timed(Dependency::Plivo, async { 7 }).await, 7);
    }
}
