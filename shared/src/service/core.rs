//! What the send and verify use cases share: the configuration, the keys, the store, the
//! clock and the metrics ([`Core`]), and units taken from budgets for a request that may still
//! stop short ([`Reservation`]).

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::OtpConfig;
use crate::domain::{Caller, CounterKind, HOUR, Keyring, Limit};
use crate::error::{OtpError, chain};
use crate::metrics::Metrics;
use crate::store::{Budget, Counter, OtpStore};

/// The parts the send and verify use cases share: configuration, hashing, the store, the
/// clock and the metrics.
pub(super) struct Core<S> {
    pub(super) config: OtpConfig,
    pub(super) keys: Keyring,
    pub(super) store: S,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) metrics: Metrics,
}

impl<S: OtpStore> Core<S> {
    pub(super) fn new(config: OtpConfig, store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: Keyring::new(&config.secret),
            config,
            store,
            clock,
            metrics: Metrics::off(),
        }
    }

    /// The per-client budgets for the caller: its IPv4 address or IPv6 /64 under `per_ip`,
    /// and for IPv6 also its /48 under `per_48`. Only those switched on, and none when the
    /// caller's IP is unknown.
    pub(super) fn ip_budgets(
        &self,
        kinds: (CounterKind, CounterKind),
        caller: &Caller,
        (per_ip, per_48): (Limit, Limit),
        now: u64,
    ) -> Vec<Budget> {
        let Some(ip) = caller.ip else {
            return Vec::new();
        };
        let block = ip.ipv6_48().map(|block| (kinds.1, block, per_48));
        std::iter::once((kinds.0, ip.subject(), per_ip))
            .chain(block)
            .filter(|(_, _, limit)| *limit != Limit::Off)
            .map(|(kind, subject, limit)| {
                let subject = self.keys.counter_subject(kind, &subject);
                Budget::one(kind, &subject, limit, HOUR, now)
            })
            .collect()
    }

    /// Takes a unit from every budget, in order, or from none: when one is full (or a
    /// request fails) the units already taken are given back. The units taken, or the full
    /// budget and the seconds until it has room.
    pub(super) async fn reserve<'b>(
        &self,
        budgets: &'b [Budget],
        now: u64,
    ) -> Result<Result<Reservation<'_, S>, (&'b Budget, u64)>, OtpError> {
        let mut reserved = Reservation {
            store: &self.store,
            units: Vec::new(),
        };
        for budget in budgets {
            match self.store.take(budget, now).await {
                Ok(Ok(unit)) => reserved.units.push(unit),
                Ok(Err(retry_after)) => {
                    reserved.give_back().await;
                    return Ok(Err((budget, retry_after)));
                }
                Err(e) => {
                    reserved.give_back().await;
                    return Err(e.into());
                }
            }
        }
        Ok(Ok(reserved))
    }
}

/// Units taken from budgets for a request that may still stop short. Whoever holds it says
/// what becomes of them: [`keep`](Self::keep), [`give_back`](Self::give_back), or
/// [`settle`](Self::settle) on the request's outcome.
#[must_use = "units are kept unless given back"]
pub(super) struct Reservation<'a, S: OtpStore> {
    store: &'a S,
    units: Vec<Counter>,
}

impl<S: OtpStore> Reservation<'_, S> {
    /// Keeps the units when `outcome` succeeded and gives them back when it failed.
    pub(super) async fn settle<T>(self, outcome: Result<T, OtpError>) -> Result<T, OtpError> {
        match outcome {
            Ok(_) => self.keep(),
            Err(_) => self.give_back().await,
        }
        outcome
    }

    /// The request went ahead: the units stay taken.
    pub(super) fn keep(self) {}

    /// Returns the units. A failure here only makes a limit stricter for the rest of its
    /// bucket, so it is logged, not returned.
    pub(super) async fn give_back(self) {
        for unit in &self.units {
            if let Err(e) = self.store.give_back(unit).await {
                tracing::warn!(
                    error.message = %chain(&e),
                    "could not return a counter unit"
                );
            }
        }
    }
}
