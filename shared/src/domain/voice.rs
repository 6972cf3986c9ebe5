//! The voice channel: how a code is read aloud, and in which language.

/// How a code reaches the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Channel {
    #[default]
    Sms,
    /// A phone call that reads the code aloud (landlines, poor SMS coverage, accessibility).
    Voice,
}

impl Channel {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sms" => Some(Self::Sms),
            "voice" => Some(Self::Voice),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Voice => "voice",
        }
    }
}

/// What a call says, in one language: the text-to-speech language, the words before the code
/// and the words before it is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spoken {
    /// The language as Plivo's `<Speak language>` names it.
    pub speech_language: &'static str,
    pub intro: &'static str,
    pub again: &'static str,
}

/// The spoken words per language of the SMS texts (`shared/messages/texts.txt`), for the
/// languages the text-to-speech voices have; any other language is spoken in English.
const SPOKEN: &[(&str, Spoken)] = &[
    (
        "en",
        spoken("en-US", "Your verification code is", "Once again"),
    ),
    (
        "es",
        spoken("es-ES", "Su código de verificación es", "Repito"),
    ),
    (
        "pt",
        spoken("pt-PT", "O seu código de verificação é", "Repito"),
    ),
    (
        "pt-BR",
        spoken("pt-BR", "Seu código de verificação é", "Repetindo"),
    ),
    (
        "fr",
        spoken("fr-FR", "Votre code de vérification est", "Je répète"),
    ),
    (
        "de",
        spoken("de-DE", "Ihr Bestätigungscode lautet", "Noch einmal"),
    ),
    (
        "it",
        spoken("it-IT", "Il tuo codice di verifica è", "Ripeto"),
    ),
    ("nl", spoken("nl-NL", "Uw verificatiecode is", "Nogmaals")),
    (
        "pl",
        spoken("pl-PL", "Twój kod weryfikacyjny to", "Powtarzam"),
    ),
    ("ru", spoken("ru-RU", "Ваш код подтверждения", "Повторяю")),
    (
        "tr",
        spoken("tr-TR", "Doğrulama kodunuz", "Tekrar ediyorum"),
    ),
    ("ar", spoken("arb", "رمز التحقق الخاص بك هو", "أكرر")),
    ("hi", spoken("hi-IN", "आपका सत्यापन कोड है", "फिर से")),
    ("ja", spoken("ja-JP", "認証コードは", "もう一度")),
    ("ko", spoken("ko-KR", "인증번호는", "다시 한 번")),
    ("zh-CN", spoken("cmn-CN", "您的验证码是", "再说一遍")),
    (
        "sv",
        spoken("sv-SE", "Din verifieringskod är", "Jag upprepar"),
    ),
];

const fn spoken(speech_language: &'static str, intro: &'static str, again: &'static str) -> Spoken {
    Spoken {
        speech_language,
        intro,
        again,
    }
}

impl Spoken {
    /// The words for `language` (a tag of the SMS texts), English when no voice has it.
    pub fn for_language(language: &str) -> Self {
        SPOKEN
            .iter()
            .find(|(tag, _)| *tag == language)
            .or_else(|| SPOKEN.first())
            .map(|(_, s)| *s)
            .expect("English is in the table")
    }

    /// The language tag of the SMS texts these words are for (English for any other).
    pub fn language_tag(language: &str) -> &'static str {
        SPOKEN
            .iter()
            .find(|(tag, _)| *tag == language)
            .map_or("en", |(tag, _)| tag)
    }
}

/// The code's digits one by one, with a pause after each (`1, 2, 3, ...`), so a voice reads
/// them slowly and never as one number.
pub fn digit_by_digit(code: &str) -> String {
    let digits: Vec<String> = code.chars().map(String::from).collect();
    format!("{}.", digits.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_parse_and_default_to_sms() {
        assert_eq!(Channel::parse("voice"), Some(Channel::Voice));
        assert_eq!(Channel::parse("sms"), Some(Channel::Sms));
        assert_eq!(Channel::parse("Voice"), None);
        assert_eq!(Channel::default(), Channel::Sms);
    }

    #[test]
    fn a_language_without_a_voice_is_spoken_in_english() {
        assert_eq!(Spoken::for_language("fr").speech_language, "fr-FR");
        assert_eq!(
            Spoken::for_language("pt-BR").intro,
            "Seu código de verificação é"
        );
        assert_eq!(Spoken::for_language("vi").speech_language, "en-US");
        assert_eq!(Spoken::language_tag("vi"), "en");
        assert_eq!(Spoken::language_tag("de"), "de");
    }

    #[test]
    fn every_spoken_language_has_a_text() {
        for (tag, _) in SPOKEN {
            assert!(
                super::super::LANGUAGES.iter().any(|(t, _)| t == tag),
                "{tag} has no SMS text"
            );
        }
    }

    #[test]
    fn digits_are_read_one_by_one() {
        assert_eq!(digit_by_digit("042917"), "0, 4, 2, 9, 1, 7.");
    }
}
