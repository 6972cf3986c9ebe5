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

/// What a call says, in one language: the text-to-speech language, the prompt to press 1,
/// the words before the code and the words before it is repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spoken {
    /// The language as Plivo's `<Speak language>` names it.
    pub speech_language: &'static str,
    pub intro: &'static str,
    pub again: &'static str,
    /// The prompt to press 1 before the code is read (no machine presses a key).
    pub press: &'static str,
}

/// The spoken words per language of the SMS texts (`shared/messages/texts.txt`), for the
/// languages the text-to-speech voices have; any other language is spoken in English.
const SPOKEN: &[(&str, Spoken)] = &[
    (
        "en",
        spoken(
            "en-US",
            "Your verification code is",
            "Once again",
            "Press 1 to hear your verification code.",
        ),
    ),
    (
        "es",
        spoken(
            "es-ES",
            "Su código de verificación es",
            "Repito",
            "Pulse 1 para escuchar su código de verificación.",
        ),
    ),
    (
        "pt",
        spoken(
            "pt-PT",
            "O seu código de verificação é",
            "Repito",
            "Prima 1 para ouvir o seu código de verificação.",
        ),
    ),
    (
        "pt-BR",
        spoken(
            "pt-BR",
            "Seu código de verificação é",
            "Repetindo",
            "Pressione 1 para ouvir seu código de verificação.",
        ),
    ),
    (
        "fr",
        spoken(
            "fr-FR",
            "Votre code de vérification est",
            "Je répète",
            "Appuyez sur 1 pour entendre votre code de vérification.",
        ),
    ),
    (
        "de",
        spoken(
            "de-DE",
            "Ihr Bestätigungscode lautet",
            "Noch einmal",
            "Drücken Sie die 1, um Ihren Bestätigungscode zu hören.",
        ),
    ),
    (
        "it",
        spoken(
            "it-IT",
            "Il tuo codice di verifica è",
            "Ripeto",
            "Premi 1 per ascoltare il tuo codice di verifica.",
        ),
    ),
    (
        "nl",
        spoken(
            "nl-NL",
            "Uw verificatiecode is",
            "Nogmaals",
            "Druk op 1 om uw verificatiecode te horen.",
        ),
    ),
    (
        "pl",
        spoken(
            "pl-PL",
            "Twój kod weryfikacyjny to",
            "Powtarzam",
            "Naciśnij 1, aby usłyszeć kod weryfikacyjny.",
        ),
    ),
    (
        "ru",
        spoken(
            "ru-RU",
            "Ваш код подтверждения",
            "Повторяю",
            "Нажмите 1, чтобы прослушать код подтверждения.",
        ),
    ),
    (
        "tr",
        spoken(
            "tr-TR",
            "Doğrulama kodunuz",
            "Tekrar ediyorum",
            "Doğrulama kodunuzu dinlemek için 1'e basın.",
        ),
    ),
    (
        "ar",
        spoken(
            "arb",
            "رمز التحقق الخاص بك هو",
            "أكرر",
            "اضغط 1 لسماع رمز التحقق.",
        ),
    ),
    (
        "hi",
        spoken(
            "hi-IN",
            "आपका सत्यापन कोड है",
            "फिर से",
            "अपना सत्यापन कोड सुनने के लिए 1 दबाएँ।",
        ),
    ),
    (
        "ja",
        spoken(
            "ja-JP",
            "認証コードは",
            "もう一度",
            "認証コードを聞くには1を押してください。",
        ),
    ),
    (
        "ko",
        spoken(
            "ko-KR",
            "인증번호는",
            "다시 한 번",
            "인증번호를 들으시려면 1번을 누르세요.",
        ),
    ),
    (
        "zh-CN",
        spoken(
            "cmn-CN",
            "您的验证码是",
            "再说一遍",
            "请按1收听您的验证码。",
        ),
    ),
    (
        "sv",
        spoken(
            "sv-SE",
            "Din verifieringskod är",
            "Jag upprepar",
            "Tryck 1 för att höra din verifieringskod.",
        ),
    ),
];

const fn spoken(
    speech_language: &'static str,
    intro: &'static str,
    again: &'static str,
    press: &'static str,
) -> Spoken {
    Spoken {
        speech_language,
        intro,
        again,
        press,
    }
}

impl Spoken {
    /// The words for `language` (a tag of the SMS texts), English when no voice has it.
    pub(crate) fn for_language(language: &str) -> Self {
        SPOKEN
            .iter()
            .find(|(tag, _)| *tag == language)
            .or_else(|| SPOKEN.first())
            .map(|(_, s)| *s)
            .expect("English is in the table")
    }

    /// The language tag of the SMS texts these words are for (English for any other).
    pub(crate) fn language_tag(language: &str) -> &'static str {
        SPOKEN
            .iter()
            .find(|(tag, _)| *tag == language)
            .map_or("en", |(tag, _)| tag)
    }
}

/// The code's digits one by one, with a pause after each (`1, 2, 3, ...`), so a voice reads
/// them slowly and never as one number.
pub(crate) fn digit_by_digit(code: &str) -> String {
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
                super::super::LANGUAGES.contains(tag),
                "{tag} has no SMS text"
            );
        }
    }

    #[test]
    fn digits_are_read_one_by_one() {
        assert_eq!(digit_by_digit("042917"), "0, 4, 2, 9, 1, 7.");
    }
}
