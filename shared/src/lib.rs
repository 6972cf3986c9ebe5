//! The library behind the `send-otp` and `verify-otp` functions, in layers:
//!
//! - [`domain`]: the vocabulary (phone numbers, codes, callers, limits, keyed hashes); no I/O.
//! - [`store`]: the [`store::OtpStore`] seam and its DynamoDB implementation.
//! - [`sms`]: the [`sms::SmsSender`] seam and its Plivo implementation.
//! - [`token`]: the signed proof of verification (RS256 JWT) and the keys that check it.
//! - [`service`]: the two use cases, written against those seams.
//! - [`http`]: API Gateway in, JSON out; the one place an error becomes a response.
//!
//! Beside them: [`config`] (the environment, read once at start), [`clock`],
//! [`telemetry`] (logs) and [`metrics`]. Each main builds the concrete store and sender and
//! hands them in.

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
pub mod store;
pub mod telemetry;
pub mod token;

pub use lambda_http;
