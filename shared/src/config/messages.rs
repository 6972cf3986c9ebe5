//! The message settings, read by send-otp only: the languages' texts, the brand and the
//! autofill lines, checked at start against the code's length and validity.

use super::ConfigError;
use super::env::{Env, FromEnv, problem};
use crate::domain::{LANGUAGES, MessageSettings, Messages};

impl FromEnv for Messages {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let settings = MessageSettings {
            default_locale: env.optional("OTP_DEFAULT_LOCALE"),
            default_text: env.optional("OTP_MESSAGE_TEMPLATE"),
            texts: LANGUAGES
                .iter()
                .filter_map(|(tag, var)| env.optional(var).map(|text| (*tag, text)))
                .collect(),
            brand: env.optional("OTP_BRAND"),
            web_otp_domain: env.optional("OTP_WEBOTP_DOMAIN"),
            app_hashes: env.optional("OTP_ANDROID_APP_HASH"),
            allow_multipart: env.flag("OTP_ALLOW_MULTIPART", false)?,
        };
        Messages::new(settings, env.code_length()?, env.code_ttl()?)
            .map_err(|e| problem(e.var, e.problem))
    }
}
