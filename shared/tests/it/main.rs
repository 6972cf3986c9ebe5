//! The integration tests that share one process: the library driven through its public API
//! against dynalite and the local Plivo server (`common`).

mod common;

mod contract;
mod defences;
mod handlers;
mod metrics;
mod otp_flow;
mod plivo;
mod receipts;
mod security;
mod tokens;
mod verifications;
mod voice;
