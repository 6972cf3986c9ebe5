//! The message settings, read by send-otp only: the languages' texts, the brand and the
//! autofill lines, checked at start against the code's length and validity. Why they were
//! refused is told here, by variable.

use super::ConfigError;
use super::env::{Env, FromEnv, problem};
use crate::domain::{MAX_BRAND_CHARS, MessageError, MessageSettings, Messages};
use crate::domain::{Overflow, TextSetting};

/// The variable that replaces each built-in language's text.
pub(crate) const TEXT_VARS: [(&str, &str); 23] = [
    ("en", "OTP_MESSAGE_TEMPLATE_EN"),
    ("es", "OTP_MESSAGE_TEMPLATE_ES"),
    ("pt", "OTP_MESSAGE_TEMPLATE_PT"),
    ("pt-BR", "OTP_MESSAGE_TEMPLATE_PT_BR"),
    ("fr", "OTP_MESSAGE_TEMPLATE_FR"),
    ("de", "OTP_MESSAGE_TEMPLATE_DE"),
    ("it", "OTP_MESSAGE_TEMPLATE_IT"),
    ("nl", "OTP_MESSAGE_TEMPLATE_NL"),
    ("pl", "OTP_MESSAGE_TEMPLATE_PL"),
    ("ru", "OTP_MESSAGE_TEMPLATE_RU"),
    ("uk", "OTP_MESSAGE_TEMPLATE_UK"),
    ("tr", "OTP_MESSAGE_TEMPLATE_TR"),
    ("ar", "OTP_MESSAGE_TEMPLATE_AR"),
    ("he", "OTP_MESSAGE_TEMPLATE_HE"),
    ("hi", "OTP_MESSAGE_TEMPLATE_HI"),
    ("id", "OTP_MESSAGE_TEMPLATE_ID"),
    ("ja", "OTP_MESSAGE_TEMPLATE_JA"),
    ("ko", "OTP_MESSAGE_TEMPLATE_KO"),
    ("zh-CN", "OTP_MESSAGE_TEMPLATE_ZH_CN"),
    ("zh-TW", "OTP_MESSAGE_TEMPLATE_ZH_TW"),
    ("vi", "OTP_MESSAGE_TEMPLATE_VI"),
    ("th", "OTP_MESSAGE_TEMPLATE_TH"),
    ("sv", "OTP_MESSAGE_TEMPLATE_SV"),
];

const DEFAULT_TEXT_VAR: &str = "OTP_MESSAGE_TEMPLATE";

impl FromEnv for Messages {
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let settings = MessageSettings {
            default_locale: env.optional("OTP_DEFAULT_LOCALE"),
            default_text: env.optional(DEFAULT_TEXT_VAR),
            texts: TEXT_VARS
                .iter()
                .filter_map(|(tag, var)| env.optional(var).map(|text| (*tag, text)))
                .collect(),
            brand: env.optional("OTP_BRAND"),
            web_otp_domain: env.optional("OTP_WEBOTP_DOMAIN"),
            app_hashes: env.optional("OTP_ANDROID_APP_HASH"),
            allow_multipart: env.flag("OTP_ALLOW_MULTIPART", false)?,
        };
        Messages::new(settings, env.code_length()?, env.code_ttl()?).map_err(explain)
    }
}

/// The variable of a language's text, or of the default language's.
fn text_var(setting: TextSetting) -> &'static str {
    match setting {
        TextSetting::Default => DEFAULT_TEXT_VAR,
        TextSetting::Language(tag) => TEXT_VARS
            .iter()
            .find(|(t, _)| *t == tag)
            .map_or(DEFAULT_TEXT_VAR, |(_, var)| var),
    }
}

/// The refusal, by the variable to change.
fn explain(error: MessageError) -> ConfigError {
    match error {
        MessageError::DefaultLocale => problem(
            "OTP_DEFAULT_LOCALE",
            "must be a BCP 47 language tag, e.g. en or pt-BR",
        ),
        MessageError::DefaultLocaleUnknown => problem(
            "OTP_DEFAULT_LOCALE",
            "has no built-in text (see shared/messages/texts.txt)",
        ),
        MessageError::Brand => problem(
            "OTP_BRAND",
            format!("must be at most {MAX_BRAND_CHARS} GSM-7 characters on one line"),
        ),
        MessageError::WebOtpDomain => {
            problem("OTP_WEBOTP_DOMAIN", "must be a host name, e.g. example.com")
        }
        MessageError::AppHashes => problem(
            "OTP_ANDROID_APP_HASH",
            "must be app hashes of exactly 11 characters of A-Z, a-z, 0-9, + and /, comma-separated",
        ),
        MessageError::DefaultTextTwice(tag) => problem(
            DEFAULT_TEXT_VAR,
            format!(
                "set either {DEFAULT_TEXT_VAR} or {}, not both",
                text_var(TextSetting::Language(tag))
            ),
        ),
        MessageError::Template(setting, error) => problem(text_var(setting), error.to_string()),
        MessageError::NoBrand(setting) => {
            problem(text_var(setting), "uses {brand}, and OTP_BRAND is not set")
        }
        MessageError::OwnWebOtpLine(setting) => problem(
            text_var(setting),
            "ends with its own WebOTP line; OTP_WEBOTP_DOMAIN adds it",
        ),
        MessageError::OverOneSegment(overflow) => too_long(overflow),
    }
}

/// Which languages do not fit one segment, and with what.
fn too_long(overflow: Overflow) -> ConfigError {
    let mut with = vec![format!("a {}-digit code (OTP_DIGITS)", overflow.digits)];
    if let Some(brand) = &overflow.brand {
        with.push(format!("the brand \"{brand}\" (OTP_BRAND)"));
    }
    if overflow.app_hash {
        with.push("the app hash line (OTP_ANDROID_APP_HASH)".to_owned());
    }
    if let Some(host) = &overflow.web_otp {
        with.push(format!("the line @{host} (OTP_WEBOTP_DOMAIN)"));
    }
    problem(
        text_var(overflow.first),
        format!(
            "more than one SMS segment in {} with {}; shorten those texts (OTP_MESSAGE_TEMPLATE_<TAG>), the brand or the domain, or set OTP_ALLOW_MULTIPART=true",
            overflow.languages.join(", "),
            with.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LANGUAGES;

    #[test]
    fn every_built_in_language_has_its_variable() {
        let tags: Vec<&str> = TEXT_VARS.iter().map(|(tag, _)| *tag).collect();
        assert_eq!(tags, LANGUAGES);
        for (tag, var) in TEXT_VARS {
            let expected = format!(
                "OTP_MESSAGE_TEMPLATE_{}",
                tag.to_uppercase().replace('-', "_")
            );
            assert_eq!(var, expected);
        }
    }
}
