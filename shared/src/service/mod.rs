//! The use cases, written against the [`OtpStore`](crate::store::OtpStore),
//! [`SmsSender`](crate::sms::SmsSender) and [`ReceiptStore`](crate::store::ReceiptStore)
//! seams: send a code ([`send`]), verify a code ([`verify`]), and Plivo's callbacks
//! ([`callbacks`]); what the first two share is in [`core`]. No HTTP and no AWS here: the
//! mains build the concrete store and sender and hand them in.

mod callbacks;
mod core;
mod send;
mod verify;

pub use callbacks::Callbacks;
pub(crate) use callbacks::{AnswerFetch, AnswerStep, Recorded, StatusReport};
pub use send::{MessageChoice, SendOtp, Sent};
pub use verify::{Subject, Verification, VerifyOtp};

#[cfg(test)]
mod tests;
