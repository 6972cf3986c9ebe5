//! The limits the service enforces, and the counters that enforce the ones beyond a single
//! number. Times are whole seconds: instants since the Unix epoch, durations as counts.

use super::{NumberType, Region};

/// One hour: the window of the per-number limits and the bucket of the per-client ones.
pub(crate) const HOUR: u64 = 3600;
/// The bucket of the deployment-wide send budget.
pub(crate) const MINUTE: u64 = 60;

/// A limit where `0` in the environment switches it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Off,
    AtMost(u32),
}

impl Limit {
    /// The bound as used in a `count < bound` condition; switched off means no count reaches it.
    pub(crate) fn bound(self) -> u64 {
        match self {
            Limit::Off => u64::from(u32::MAX) + 1,
            Limit::AtMost(n) => u64::from(n),
        }
    }
}

/// The limits on one phone number, enforced in the conditions of its item's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Seconds a code stays valid.
    pub code_ttl: u64,
    /// Guesses counted against one code.
    pub max_attempts: u32,
    /// Seconds between two sends to the number.
    pub resend_cooldown: u64,
    pub max_sends_per_hour: Limit,
    /// Wrong guesses by number (without a verification id) per number per hour; never stops
    /// a send, nor a guess by id.
    pub max_failures_per_hour: Limit,
    /// Wrong guesses in a row (no right code between them, across hours and codes) that
    /// lock the number.
    pub max_consecutive_failures: u32,
    /// Seconds a run of consecutive failures (and a lock) lasts after its last failure.
    pub lockout: u64,
    /// Seconds a verification's status can be read after its code was sent.
    pub verification_retention: u64,
}

/// Abuse and fraud defences beyond a single number (SMS pumping, enumeration, brute force
/// across numbers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defences {
    /// Regions codes may be sent to; `None` allows all.
    pub allowed_countries: Option<Vec<Region>>,
    /// Line types codes may be sent to.
    pub allowed_number_types: Vec<NumberType>,
    pub max_sends_per_ip_per_hour: Limit,
    /// IPv6 callers only: sends per /48 per hour, on top of the per-/64 limit.
    pub max_sends_per_ipv6_48_per_hour: Limit,
    pub max_sends_per_prefix_per_hour: Limit,
    /// National digits after the country code that make up a prefix.
    pub prefix_digits: usize,
    pub max_sends_per_minute: Limit,
    pub max_failures_per_ip_per_hour: Limit,
    /// IPv6 callers only: wrong codes per /48 per hour, on top of the per-/64 budget.
    pub max_failures_per_ipv6_48_per_hour: Limit,
    /// A guess must name its verification: guesses by number alone are refused, so a
    /// stranger cannot spend the attempts of a code someone else asked for.
    pub require_verification_id: bool,
}

/// What a counter beyond a single number counts. The name is part of the counter's key and of
/// the keyed hash of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CounterKind {
    /// Sends by the whole deployment, per minute.
    Global,
    /// Sends per client IPv4 address or IPv6 /64, per hour.
    IpSend,
    /// Sends per client IPv6 /48, per hour.
    IpSend48,
    /// Wrong codes per client IPv4 address or IPv6 /64, per hour.
    IpFail,
    /// Wrong codes per client IPv6 /48, per hour.
    IpFail48,
    /// Sends per number range, per hour.
    Prefix,
    /// Voice calls by the whole deployment, per hour.
    Calls,
    /// Voice calls per number, per hour.
    NumberCalls,
}

impl CounterKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CounterKind::Global => "global",
            CounterKind::IpSend => "ip-send",
            CounterKind::IpSend48 => "ip-send48",
            CounterKind::IpFail => "ip-fail",
            CounterKind::IpFail48 => "ip-fail48",
            CounterKind::Prefix => "prefix",
            CounterKind::Calls => "calls",
            CounterKind::NumberCalls => "number-calls",
        }
    }

    /// The limit this counter enforces.
    pub(crate) fn limit(self) -> Tripped {
        match self {
            CounterKind::Global => Tripped::SendsPerMinute,
            CounterKind::IpSend | CounterKind::IpSend48 => Tripped::SendsPerIp,
            CounterKind::IpFail | CounterKind::IpFail48 => Tripped::FailuresPerIp,
            CounterKind::Prefix => Tripped::SendsPerPrefix,
            CounterKind::Calls => Tripped::CallsPerHour,
            CounterKind::NumberCalls => Tripped::CallsPerNumber,
        }
    }
}

/// The limit that refused a request: the number's own (its item's windows and attempts) or
/// one a counter beyond the number enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripped {
    /// The number's cooldown, hourly send cap, failure budget or lock, on a send.
    PerNumber,
    /// The number's attempts, failure budget or lock, on a verify.
    Attempts,
    SendsPerMinute,
    SendsPerIp,
    FailuresPerIp,
    SendsPerPrefix,
    CallsPerHour,
    CallsPerNumber,
}

impl Tripped {
    /// The limit's name in the metrics' `Limit` dimension.
    pub(crate) fn metric_name(self) -> &'static str {
        match self {
            Tripped::PerNumber => "PerNumber",
            Tripped::Attempts => "Attempts",
            Tripped::SendsPerMinute => "SendsPerMinute",
            Tripped::SendsPerIp => "SendsPerIp",
            Tripped::FailuresPerIp => "FailuresPerIp",
            Tripped::SendsPerPrefix => "SendsPerPrefix",
            Tripped::CallsPerHour => "CallsPerHour",
            Tripped::CallsPerNumber => "CallsPerNumber",
        }
    }

    /// What the limit is called in logs when it refuses a request.
    pub(crate) fn log_name(self) -> &'static str {
        match self {
            Tripped::PerNumber => "the number's sends",
            Tripped::Attempts => "the number's attempts",
            Tripped::SendsPerMinute => "global sends per minute",
            Tripped::SendsPerIp => "sends per client ip per hour",
            Tripped::FailuresPerIp => "failed verifies per client ip per hour",
            Tripped::SendsPerPrefix => "sends per number prefix per hour",
            Tripped::CallsPerHour => "voice calls per hour",
            Tripped::CallsPerNumber => "voice calls per number per hour",
        }
    }
}
