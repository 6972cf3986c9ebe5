//! The library behind the `send-otp`, `verify-otp` and `plivo-callback` functions, in layers:
//!
//! - [`domain`]: the vocabulary (phone numbers, codes, callers, limits, keyed hashes); no I/O.
//! - [`store`]: the [`store::OtpStore`] seam and its DynamoDB implementation.
//! - [`sms`]: the [`sms::SmsSender`] and [`sms::VoiceCaller`] seams, their Plivo
//!   implementation, and the URLs and signatures of Plivo's callbacks.
//! - [`token`]: the signed proof of verification (RS256 JWT) and the keys that check it.
//! - [`service`]: the use cases (send, verify, Plivo's callbacks), written against those seams.
//! - [`http`]: API Gateway in, JSON out; the one place an error becomes a response.
//!
//! Beside them: [`config`] (the environment, read once at start), [`startup`] (the mains'
//! common init), [`clock`], [`telemetry`] (logs), [`metrics`] (one EMF record per request)
//! and the stopwatch its dependency times come from. Each main builds the concrete store and
//! sender and hands them in.

#![warn(unreachable_pub)]

mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod secrets;
pub mod service;
pub mod sms;
pub mod startup;
pub mod store;
pub mod telemetry;
mod timing;
pub mod token;
