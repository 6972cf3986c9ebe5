//! The vocabulary of the service: phone numbers, codes, callers, limits and the keyed hashes
//! the store holds instead of numbers and codes. Parsed once at the edge, trusted everywhere
//! after. No I/O, no AWS, no HTTP here.

mod answer;
mod client;
mod code;
mod delivery;
mod keys;
mod limits;
mod locale;
mod message_settings;
mod messages;
mod phone;
mod template;
mod verification;
mod voice;

pub use answer::ANSWER_TTL;
pub(crate) use answer::{Answer, AnswerBinding, TicketError};
pub use client::{Caller, ClientIp};
pub use code::{CodeLength, OtpCode};
pub(crate) use delivery::{DeliveryOutcome, DeliveryStatus};
pub use delivery::{MessageRef, Receipt};
pub(crate) use keys::Keyring;
pub use keys::{CodeHash, PhoneKey};
pub(crate) use limits::{CounterKind, HOUR, MINUTE};
pub use limits::{Defences, Limit, Limits, Tripped};
pub use locale::Locale;
pub(crate) use locale::MAX_TAG_LEN;
pub(crate) use message_settings::{
    MAX_BRAND_CHARS, MessageError, MessageSettings, Overflow, TextSetting,
};
#[cfg(test)]
pub(crate) use messages::LANGUAGES;
pub use messages::Messages;
pub use phone::{NumberType, PhoneNumber, Region, mask_digits};
pub(crate) use template::segments;
pub(crate) use verification::{ID_CHARS, MAX_RETENTION, Opened};
pub use verification::{VerificationDigest, VerificationId, VerificationStatus};
pub use voice::Channel;
pub(crate) use voice::{Spoken, digit_by_digit};

/// Why a piece of user input was refused. The text says what is wrong with it without
/// repeating it, and without naming where it came from (the HTTP layer names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("must be a valid phone number in international format, e.g. +14155552671")]
    PhoneNumber,
    #[error("must be exactly {0} digits")]
    CodeDigits(u8),
}
