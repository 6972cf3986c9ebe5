//! Shared library of the `send-otp` and `verify-otp` functions: configuration, domain types,
//! code generation, keyed hashing, the DynamoDB store, the Plivo client and the HTTP mapping.

pub mod aws;
pub mod clock;
pub mod config;
pub mod domain;
pub mod error;
pub mod hashing;
pub mod http;
pub mod otp;
pub mod service;
pub mod sms;
pub mod store;
pub mod telemetry;

pub use lambda_http;
