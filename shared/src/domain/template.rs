//! The text that carries a code to the user.

/// The message text with `{code}` (required), `{minutes}` and `{brand}` placeholders.
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

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// The text for `code`, valid for `code_ttl` seconds: `{code}`, `{minutes}` and `{brand}`
    /// filled in (the brand last, so that a brand cannot add placeholders).
    pub(crate) fn fill(&self, code: &str, code_ttl: u64, brand: Option<&str>) -> String {
        let minutes = code_ttl.div_ceil(60);
        self.0
            .replace("{minutes}", &minutes.to_string())
            .replace("{code}", code)
            .replace("{brand}", brand.unwrap_or_default())
    }
}

/// How a message travels: GSM 03.38 7-bit (160 characters in one message, 153 per part of a
/// longer one; the extension table's characters take two) or, when any character is outside
/// it, UCS-2 (70 UTF-16 units in one, 67 per part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Gsm7,
    Ucs2,
}

/// GSM 03.38's basic character set (the escape itself excluded).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: each costs an escape and the character, two septets.
const GSM7_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The encoding a text needs and its length in it: GSM-7 septets (an extension character
/// takes two) or UTF-16 units.
pub(crate) fn encoded_length(text: &str) -> (Encoding, usize) {
    let septets: Option<usize> = text
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    match septets {
        Some(septets) => (Encoding::Gsm7, septets),
        None => (Encoding::Ucs2, text.encode_utf16().count()),
    }
}

/// The most a one-segment message holds in `encoding`: 160 septets or 70 UTF-16 units, both
/// 140 bytes.
pub(crate) fn single_segment(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Gsm7 => 160,
        Encoding::Ucs2 => 70,
    }
}

/// The encoding a text needs and the number of SMS segments it is billed as.
pub(crate) fn segments(text: &str) -> (Encoding, u32) {
    let (encoding, units) = encoded_length(text);
    let part = match encoding {
        Encoding::Gsm7 => 153,
        Encoding::Ucs2 => 67,
    };
    let count = if units <= single_segment(encoding) {
        1
    } else {
        units.div_ceil(part)
    };
    (encoding, u32::try_from(count).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_fills_in_code_minutes_and_brand() {
        let template = MessageTemplate::parse("{brand}: {code} ({minutes} min)").unwrap();
        assert_eq!(
            template.fill("042137", 600, Some("Ex")),
            "Ex: 042137 (10 min)"
        );
        assert_eq!(template.fill("042137", 61, None), ": 042137 (2 min)");
        // A brand is filled in last: its braces stay text.
        let template = MessageTemplate::parse("{brand} {code}").unwrap();
        assert_eq!(template.fill("1", 60, Some("{code}")), "{code} 1");
    }

    #[test]
    fn gsm7_texts_take_160_septets_and_escapes_count_twice() {
        let every_basic: String = GSM7_BASIC.chars().collect();
        assert_eq!(every_basic.chars().count(), 127);
        assert_eq!(segments(&every_basic), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(segments(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(segments(&"a".repeat(307)), (Encoding::Gsm7, 3));
        // 80 euro signs are 160 septets; one more character is a second segment.
        assert_eq!(segments(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(
            segments(&format!("{}a", "€".repeat(80))),
            (Encoding::Gsm7, 2)
        );
        assert_eq!(segments("[x]{y}~|^\\"), (Encoding::Gsm7, 1));
    }

    #[test]
    fn any_other_character_makes_the_text_ucs2_at_70_units() {
        for text in [
            "Ваш код подтверждения: 123456",
            "رمز التحقق الخاص بك هو 123456",
            "確認コードは123456です",
            "Your code is 123456 ✓",
            "ç is not GSM (only Ç is)",
        ] {
            assert_eq!(segments(text), (Encoding::Ucs2, 1), "{text}");
        }
        assert_eq!(segments(&"Ж".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"Ж".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"Ж".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(segments(&"Ж".repeat(135)), (Encoding::Ucs2, 3));
        // An emoji is two UTF-16 units.
        assert_eq!(segments(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        assert_eq!(segments(&"😀".repeat(36)), (Encoding::Ucs2, 2));
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
