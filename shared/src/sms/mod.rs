//! How a code reaches the user: the [`SmsSender`] and [`VoiceCaller`] the send use case
//! depends on, their Plivo implementation, the Plivo XML a call speaks, the URLs Plivo calls
//! back and the signatures of those callbacks.

pub(crate) mod callback_url;
mod plivo;
pub(crate) mod plivo_xml;
pub mod signature;

use std::future::Future;

use secrecy::SecretString;

use crate::domain::PhoneNumber;
pub use plivo::{PlivoSmsSender, RetryPolicy, SmsClientError};

/// Sends one text message. An implementation owns its retries and its time budget, and
/// returns only once the message is accepted or will not be. With `status_url`, the provider
/// reports the message's delivery there.
pub trait SmsSender: Send + Sync {
    fn send(
        &self,
        to: &PhoneNumber,
        text: &SecretString,
        status_url: Option<&str>,
    ) -> impl Future<Output = Result<(), SmsError>> + Send;
}

/// Places a call that reads a code aloud: the provider fetches what to say from `answer_url`
/// when the call is answered. Like [`SmsSender`], it owns its retries and time budget.
pub trait VoiceCaller: Send + Sync {
    fn call(
        &self,
        to: &PhoneNumber,
        answer_url: &str,
    ) -> impl Future<Output = Result<(), SmsError>> + Send;
}

/// Why the SMS (or the call) did not go out.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// Plivo answered with a status that retrying will not change (400, 401, 404, ...).
    #[error("plivo refused the message with status {status}: {error}")]
    Refused {
        status: u16,
        api_id: Option<String>,
        error: String,
    },
    /// Plivo stayed unreachable, throttled or failing for every attempt in the budget.
    #[error("plivo unavailable after {attempts} attempt(s): {last}")]
    Unavailable { attempts: u32, last: String },
}
