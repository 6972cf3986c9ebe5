//! The Plivo XML a voice call answers with: the code, digit by digit, twice, in the message's
//! language (English where no voice speaks it).

use secrecy::{ExposeSecret, SecretString};

use crate::domain::{Spoken, digit_by_digit};

/// Text safe inside an XML element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The answer that reads `code` in `language` (a tag of the SMS texts): the words before it,
/// the digits one by one, a pause, the words before the repeat, the digits again.
pub(crate) fn speak_code(code: &SecretString, language: &str) -> SecretString {
    let spoken = Spoken::for_language(language);
    let lang = escape(spoken.speech_language);
    let speak = |text: &str| format!("<Speak language=\"{lang}\">{}</Speak>", escape(text));
    let digits = digit_by_digit(code.expose_secret());
    SecretString::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Response>\
         <Wait length=\"1\"/>{}{}<Wait length=\"1\"/>{}{}\
         </Response>",
        speak(spoken.intro),
        speak(&digits),
        speak(spoken.again),
        speak(&digits),
    ))
}

/// The answer that asks for a 1 before anything is said, posting the key to `action` (the
/// same answer URL): a voicemail box or a machine presses nothing, so never records the code.
pub(crate) fn press_one(action: &str, language: &str) -> SecretString {
    let spoken = Spoken::for_language(language);
    SecretString::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <Response>\
         <GetDigits action=\"{}\" method=\"POST\" numDigits=\"1\" validDigits=\"1\" \
         timeout=\"10\" retries=\"2\" log=\"false\">\
         <Speak language=\"{}\">{}</Speak>\
         </GetDigits>\
         <Hangup/>\
         </Response>",
        escape(action),
        escape(spoken.speech_language),
        escape(spoken.press),
    ))
}

/// The answer to a notice that the call is over: nothing.
pub(crate) const NOTHING: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// The answer that says nothing and ends the call.
pub(crate) const HANG_UP: &str =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Hangup/></Response>";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_spoken_digit_by_digit_twice_in_the_language() {
        let xml = speak_code(&SecretString::from("042917"), "fr");
        let xml = xml.expose_secret();
        assert_eq!(xml.matches("0, 4, 2, 9, 1, 7.").count(), 2, "{xml}");
        assert!(xml.contains("<Speak language=\"fr-FR\">Votre code de vérification est</Speak>"));
        assert!(xml.contains("Je répète"));
        assert!(xml.starts_with("<?xml") && xml.ends_with("</Response>"));
        let english = speak_code(&SecretString::from("1234567890"), "vi");
        assert!(english.expose_secret().contains("language=\"en-US\""));
        assert_eq!(escape("<a&'\">"), "&lt;a&amp;&apos;&quot;&gt;");
    }

    #[test]
    fn the_prompt_asks_for_a_1_and_posts_it_back_to_the_same_url() {
        let url = "https://otp.example.com/plivo/callback/answer?k=ab&c=cd&e=1&t=x-y";
        let xml = press_one(url, "de");
        let xml = xml.expose_secret();
        assert!(xml.contains("action=\"https://otp.example.com/plivo/callback/answer?k=ab&amp;c=cd&amp;e=1&amp;t=x-y\""), "{xml}");
        assert!(xml.contains("numDigits=\"1\"") && xml.contains("validDigits=\"1\""));
        assert!(xml.contains("Drücken Sie die 1"), "{xml}");
        let speak = xml.split("<Speak").nth(1).unwrap();
        assert!(
            speak.chars().filter(char::is_ascii_digit).all(|d| d == '1'),
            "no digit but the 1 is said: {xml}"
        );
    }
}
