//! The text that carries a code to the user.

use secrecy::SecretString;

use super::OtpCode;

/// The message text with `{code}` (required) and `{minutes}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageTemplate(String);

/// Why a message template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    #[error("must contain {{code}}")]
    NoCode,
    #[error("must be at most {0} characters")]
    TooLong(usize),
}

const DEFAULT_MESSAGE_TEMPLATE: &str =
    "Your verification code is {code}. It expires in {minutes} minutes.";

/// Plivo's limit for one message body, in GSM characters, less room for the filled-in
/// placeholders.
const MAX_TEMPLATE_CHARS: usize = 1600 - 100;

impl MessageTemplate {
    pub(crate) fn parse(text: &str) -> Result<Self, TemplateError> {
        if !text.contains("{code}") {
            return Err(TemplateError::NoCode);
        }
        if text.chars().count() > MAX_TEMPLATE_CHARS {
            return Err(TemplateError::TooLong(MAX_TEMPLATE_CHARS));
        }
        Ok(Self(text.to_owned()))
    }

    /// The text for `code`, valid for `code_ttl` seconds: `{code}` and `{minutes}` filled in.
    pub(crate) fn render(&self, code: &OtpCode, code_ttl: u64) -> SecretString {
        let minutes = code_ttl.div_ceil(60);
        SecretString::from(
            self.0
                .replace("{minutes}", &minutes.to_string())
                .replace("{code}", code.expose()),
        )
    }
}

impl Default for MessageTemplate {
    fn default() -> Self {
        Self(DEFAULT_MESSAGE_TEMPLATE.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::domain::CodeLength;

    fn code(digits: &str) -> OtpCode {
        OtpCode::parse(digits, CodeLength::default()).unwrap()
    }

    #[test]
    fn message_renders_code_and_minutes() {
        let text = MessageTemplate::default().render(&code("042137"), 600);
        assert_eq!(
            text.expose_secret(),
            "Your verification code is 042137. It expires in 10 minutes."
        );
        let webotp =
            MessageTemplate::parse("{code} is your Example code.\n\n@example.com #{code}").unwrap();
        assert_eq!(
            webotp.render(&code("123456"), 300).expose_secret(),
            "123456 is your Example code.\n\n@example.com #123456"
        );
    }

    #[test]
    fn a_template_must_hold_the_code_and_fit_one_message() {
        assert_eq!(
            MessageTemplate::parse("Your code expires soon"),
            Err(TemplateError::NoCode)
        );
        let long = format!("{{code}}{}", "x".repeat(MAX_TEMPLATE_CHARS));
        assert_eq!(
            MessageTemplate::parse(&long),
            Err(TemplateError::TooLong(MAX_TEMPLATE_CHARS))
        );
    }
}
