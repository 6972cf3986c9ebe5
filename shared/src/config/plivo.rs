//! Plivo's settings, read by send-otp: the credentials, the sender, the API's address, what
//! Plivo keeps of each message, and the voice channel with its caller id.

use secrecy::SecretString;

use super::ConfigError;
use super::env::{Env, FromEnv, problem};
use crate::domain::{Limit, NumberType};

pub(super) const DEFAULT_PLIVO_API_URL: &str = "https://api.plivo.com";

/// Settings for the Plivo client, needed by `send-otp` only.
#[derive(Debug, Clone)]
pub struct PlivoConfig {
    pub(crate) auth_id: String,
    pub(crate) auth_token: SecretString,
    pub(crate) sender_id: String,
    pub(crate) api_url: String,
    pub(crate) log: PlivoLog,
    /// The number voice calls come from: `PLIVO_VOICE_CALLER_ID`, else the sender id when it
    /// is a number.
    pub(crate) caller_id: Option<String>,
    /// The voice channel, when `OTP_VOICE_ENABLED=true`.
    pub(crate) voice: Option<VoiceConfig>,
}

/// Plivo's `log` field: what Plivo keeps of each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlivoLog {
    /// Plivo stores no content and masks the destination (the default here).
    Off,
    /// Plivo keeps number and content (Plivo's own default; for debugging).
    On,
    NumberOnly,
    ContentOnly,
}

/// The voice channel's settings (send-otp only): present when `OTP_VOICE_ENABLED=true`.
#[derive(Debug, Clone)]
pub struct VoiceConfig {
    /// Line types calls may go to (landlines too by default: they cannot take an SMS).
    pub(crate) allowed_number_types: Vec<NumberType>,
    /// Calls the whole deployment may place per hour.
    pub(crate) max_calls_per_hour: Limit,
    /// Calls one number may receive per hour.
    pub(crate) max_calls_per_number_per_hour: Limit,
}

const DEFAULT_VOICE_NUMBER_TYPES: [NumberType; 3] = [
    NumberType::Mobile,
    NumberType::FixedLineOrMobile,
    NumberType::FixedLine,
];

/// A phone number as Plivo takes a caller id: digits, optionally after a `+`.
fn is_phone_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl PlivoConfig {
    /// The voice channel, when calls are on.
    pub fn voice(&self) -> Option<VoiceConfig> {
        self.voice.clone()
    }
}

impl FromEnv for PlivoConfig {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let auth_id = env.required("PLIVO_AUTH_ID")?;
        if !auth_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(problem("PLIVO_AUTH_ID", "must be letters and digits only"));
        }
        let sender_id = env.required("PLIVO_SENDER_ID")?;
        let caller_id = env.caller_id(&sender_id)?;
        Ok(Self {
            auth_id,
            auth_token: SecretString::from(env.required("PLIVO_AUTH_TOKEN")?),
            api_url: env.url("PLIVO_API_URL", DEFAULT_PLIVO_API_URL)?,
            log: env.plivo_log()?,
            voice: env.voice(caller_id.is_some())?,
            sender_id,
            caller_id,
        })
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// `PLIVO_LOG`.
    fn plivo_log(&self) -> Result<PlivoLog, ConfigError> {
        Ok(match self.optional("PLIVO_LOG").as_deref().map(str::trim) {
            None | Some("false") => PlivoLog::Off,
            Some("true") => PlivoLog::On,
            Some("number_only") => PlivoLog::NumberOnly,
            Some("content_only") => PlivoLog::ContentOnly,
            Some(_) => {
                let text = "must be one of false, true, number_only, content_only";
                return Err(problem("PLIVO_LOG", text));
            }
        })
    }

    /// `PLIVO_VOICE_CALLER_ID`, else the sender id when it is a number.
    fn caller_id(&self, sender_id: &str) -> Result<Option<String>, ConfigError> {
        match self.optional("PLIVO_VOICE_CALLER_ID") {
            Some(id) if is_phone_number(id.trim()) => Ok(Some(id.trim().to_owned())),
            Some(_) => Err(problem(
                "PLIVO_VOICE_CALLER_ID",
                "must be a phone number in international format, e.g. +14155550100",
            )),
            None => Ok(is_phone_number(sender_id).then(|| sender_id.to_owned())),
        }
    }

    /// The voice channel, when `OTP_VOICE_ENABLED=true`: a call needs somewhere to fetch its
    /// words from (`OTP_PUBLIC_BASE_URL`) and a number to come from.
    fn voice(&self, has_caller_id: bool) -> Result<Option<VoiceConfig>, ConfigError> {
        const VAR: &str = "OTP_VOICE_ENABLED";
        if !self.flag(VAR, false)? {
            return Ok(None);
        }
        if self.optional("OTP_PUBLIC_BASE_URL").is_none() {
            let text = "needs OTP_PUBLIC_BASE_URL, where Plivo fetches what a call says";
            return Err(problem(VAR, text));
        }
        if !has_caller_id {
            let text =
                "needs a caller id: PLIVO_VOICE_CALLER_ID, or a PLIVO_SENDER_ID that is a number";
            return Err(problem(VAR, text));
        }
        Ok(Some(VoiceConfig {
            allowed_number_types: self.number_types(
                "OTP_VOICE_ALLOWED_NUMBER_TYPES",
                &DEFAULT_VOICE_NUMBER_TYPES,
            )?,
            max_calls_per_hour: self.limit("OTP_MAX_CALLS_PER_HOUR", 30)?,
            max_calls_per_number_per_hour: self.limit("OTP_MAX_CALLS_PER_NUMBER_PER_HOUR", 2)?,
        }))
    }
}
