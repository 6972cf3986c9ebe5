//! Which text a code goes out in, and its shape: the language (the caller's, the
//! destination's, or the default), the operator's brand, and the lines browsers and phones
//! read to fill the code in by themselves (WebOTP's `@domain #code`, Android's app hash).
//! Every combination is rendered and checked once, at start: a built-in text too long for the
//! configured shape goes out in its language's compact form, and a text that would still cost
//! a second segment, or break the autofill format, stops the function instead of going out.

use secrecy::SecretString;

use super::locale::{Locale, default_for_region};
use super::message_settings::{
    MessageError, MessageSettings, Overflow, TextSetting, app_hashes, brand, default_language,
    given, web_otp_host,
};
use super::template::{Encoding, MessageTemplate, encoded_length, single_segment};
use super::{CodeLength, OtpCode, Region};

/// The built-in texts, `<tag> = <text>` per line (`shared/messages/texts.txt`).
const TEXTS: &str = include_str!("../../messages/texts.txt");
/// Each language's compact text, for a shape its full one does not fit
/// (`shared/messages/compact.txt`).
const COMPACT_TEXTS: &str = include_str!("../../messages/compact.txt");

/// The languages with a built-in text.
pub(crate) const LANGUAGES: [&str; 23] = [
    "en", "es", "pt", "pt-BR", "fr", "de", "it", "nl", "pl", "ru", "uk", "tr", "ar", "he", "hi",
    "id", "ja", "ko", "zh-CN", "zh-TW", "vi", "th", "sv",
];

/// `tag`'s line in a texts file.
fn text_in(file: &'static str, tag: &str) -> Option<&'static str> {
    file.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .find(|(t, _)| *t == tag)
        .map(|(_, text)| text)
}

/// Every language's text, and what goes around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    /// Each built-in language with the text it goes out in.
    texts: Vec<(&'static str, MessageTemplate)>,
    /// The language of last resort.
    default: &'static str,
    brand: Option<String>,
    web_otp: Option<String>,
    app_hashes: Vec<String>,
}

/// One language's text while the catalogue is checked: the one it goes out in, and for a
/// built-in text, the compact one to fall back to.
struct Candidate {
    tag: &'static str,
    setting: TextSetting,
    template: MessageTemplate,
    compact: Option<MessageTemplate>,
}

impl Default for Messages {
    /// The built-in texts, in English by default, without brand or autofill lines.
    fn default() -> Self {
        Self::new(
            MessageSettings::default(),
            CodeLength::new(CodeLength::MAX).expect("in range"),
            900,
        )
        .expect("the built-in texts fit one segment at any code length")
    }
}

impl Messages {
    /// Builds the catalogue and renders every language in every shape with the longest code
    /// (`digits` nines) and `code_ttl`'s minutes: each must fit one SMS segment (140 bytes,
    /// as Android's SMS Retriever also requires), in its compact form if need be, unless
    /// `allow_multipart`.
    pub(crate) fn new(
        settings: MessageSettings,
        digits: CodeLength,
        code_ttl: u64,
    ) -> Result<Self, MessageError> {
        let default = default_language(settings.default_locale.as_deref())?;
        let brand = brand(settings.brand.as_deref())?;
        let web_otp = match given(settings.web_otp_domain.as_deref()) {
            None => None,
            Some(domain) => Some(web_otp_host(domain).ok_or(MessageError::WebOtpDomain)?),
        };
        let app_hashes = app_hashes(settings.app_hashes.as_deref())?;
        let mut messages = Self {
            texts: Vec::new(),
            default,
            brand,
            web_otp,
            app_hashes,
        };
        let candidates = messages.candidates(&settings)?;
        messages.fit(candidates, digits, code_ttl, settings.allow_multipart)?;
        Ok(messages)
    }

    /// Each language's text: the operator's, or the built-in one with its compact form (led
    /// by the brand, when there is one).
    fn candidates(&self, settings: &MessageSettings) -> Result<Vec<Candidate>, MessageError> {
        if settings.default_text.is_some() && settings.texts.iter().any(|(t, _)| *t == self.default)
        {
            return Err(MessageError::DefaultTextTwice(self.default));
        }
        let builtin = |file, tag| {
            let text = text_in(file, tag).expect("every language has a text in each file");
            let text = match self.brand {
                Some(_) => format!("{{brand}}: {text}"),
                None => text.to_owned(),
            };
            MessageTemplate::parse(&text).expect("the built-in texts have a code")
        };
        LANGUAGES
            .into_iter()
            .map(|tag| {
                let own = settings.texts.iter().find(|(t, _)| *t == tag);
                let default_text = settings
                    .default_text
                    .as_ref()
                    .filter(|_| tag == self.default);
                let candidate = match (own, default_text) {
                    (Some((_, text)), _) => self.own(TextSetting::Language(tag), tag, text)?,
                    (None, Some(text)) => self.own(TextSetting::Default, tag, text)?,
                    (None, None) => Candidate {
                        tag,
                        setting: TextSetting::Language(tag),
                        template: builtin(TEXTS, tag),
                        compact: Some(builtin(COMPACT_TEXTS, tag)),
                    },
                };
                Ok(candidate)
            })
            .collect()
    }

    /// An operator's text for `tag`, checked against the other settings.
    fn own(
        &self,
        setting: TextSetting,
        tag: &'static str,
        text: &str,
    ) -> Result<Candidate, MessageError> {
        let template =
            MessageTemplate::parse(text).map_err(|e| MessageError::Template(setting, e))?;
        if template.as_str().contains("{brand}") && self.brand.is_none() {
            return Err(MessageError::NoBrand(setting));
        }
        let last_line = template.as_str().lines().last().unwrap_or_default();
        if self.web_otp.is_some() && last_line.trim_start().starts_with('@') {
            return Err(MessageError::OwnWebOtpLine(setting));
        }
        Ok(Candidate {
            tag,
            setting,
            template,
            compact: None,
        })
    }

    /// Takes each language's text, shaped as it will be sent with the longest code and app
    /// hash: the full one if it fits one segment, else the compact one; refused when a text
    /// that goes out still does not fit, unless `allow_multipart`.
    fn fit(
        &mut self,
        candidates: Vec<Candidate>,
        digits: CodeLength,
        code_ttl: u64,
        allow_multipart: bool,
    ) -> Result<(), MessageError> {
        let code = "9".repeat(usize::from(digits.get()));
        let hash = self.app_hashes.first().map(String::as_str);
        let overflow = |template: &MessageTemplate| {
            over_one_segment(&self.shape(template, &code, code_ttl, hash))
        };
        let mut over = Vec::new();
        let mut texts = Vec::new();
        for candidate in candidates {
            let mut template = candidate.template;
            if let (Some(_), Some(compact)) = (overflow(&template), candidate.compact) {
                template = compact;
            }
            if let Some(length) = overflow(&template) {
                over.push((candidate.setting, format!("{} ({length})", candidate.tag)));
            }
            texts.push((candidate.tag, template));
        }
        self.texts = texts;
        match over.first() {
            Some((first, _)) if !allow_multipart => Err(MessageError::OverOneSegment(Overflow {
                first: *first,
                languages: over.into_iter().map(|(_, language)| language).collect(),
                digits: digits.get(),
                brand: self.brand.clone(),
                app_hash: hash.is_some(),
                web_otp: self.web_otp.clone(),
            })),
            _ => Ok(()),
        }
    }

    /// The language a message goes out in: the caller's `requested` one when there is a text
    /// for it or a language it falls back to, else the destination's, else the default.
    pub(crate) fn language(
        &self,
        requested: Option<&Locale>,
        region: Option<Region>,
    ) -> &'static str {
        requested
            .and_then(lookup)
            .or_else(|| region.and_then(default_for_region))
            .unwrap_or(self.default)
    }

    /// The app hash to append: the caller's, which must be one of the configured ones, or the
    /// first configured; none when none is configured.
    pub(crate) fn app_hash<'a>(
        &'a self,
        requested: Option<&str>,
    ) -> Result<Option<&'a str>, &'static str> {
        match requested {
            None => Ok(self.app_hashes.first().map(String::as_str)),
            Some(hash) => self
                .app_hashes
                .iter()
                .find(|h| *h == hash)
                .map(|h| Some(h.as_str()))
                .ok_or("appHash must be one of the app hashes this deployment is configured with"),
        }
    }

    /// The message for `code` in `language`, with the app hash if any.
    pub(crate) fn render(
        &self,
        language: &str,
        code: &OtpCode,
        code_ttl: u64,
        app_hash: Option<&str>,
    ) -> SecretString {
        let template = self
            .texts
            .iter()
            .find(|(tag, _)| *tag == language)
            .or_else(|| self.texts.iter().find(|(tag, _)| *tag == self.default))
            .map(|(_, t)| t)
            .expect("the default language has a text");
        SecretString::from(self.shape(template, code.expose(), code_ttl, app_hash))
    }

    /// `template` filled in, then the autofill lines: the app hash, then WebOTP's line, which
    /// must be the last (`@host #code`).
    fn shape(
        &self,
        template: &MessageTemplate,
        code: &str,
        code_ttl: u64,
        app_hash: Option<&str>,
    ) -> String {
        let mut text = template.fill(code, code_ttl, self.brand.as_deref());
        match (app_hash, &self.web_otp) {
            (None, None) => {}
            (Some(hash), None) => {
                text.push_str("\n\n");
                text.push_str(hash);
            }
            (None, Some(host)) => text.push_str(&format!("\n\n@{host} #{code}")),
            (Some(hash), Some(host)) => text.push_str(&format!("\n\n{hash}\n@{host} #{code}")),
        }
        text
    }
}

/// How far over one segment `text` is, as `161 of 160 GSM-7 septets`; none when it fits.
fn over_one_segment(text: &str) -> Option<String> {
    let (encoding, length) = encoded_length(text);
    let unit = match encoding {
        Encoding::Gsm7 => "GSM-7 septets",
        Encoding::Ucs2 => "UCS-2 units",
    };
    let most = single_segment(encoding);
    (length > most).then(|| format!("{length} of {most} {unit}"))
}

/// The built-in language a tag falls back to, if any.
pub(super) fn lookup(locale: &Locale) -> Option<&'static str> {
    locale
        .candidates()
        .iter()
        .find_map(|c| LANGUAGES.into_iter().find(|tag| tag == c))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::domain::template::{Encoding, segments};

    fn digits(n: u8) -> CodeLength {
        CodeLength::new(n).unwrap()
    }

    fn messages(settings: MessageSettings) -> Result<Messages, MessageError> {
        Messages::new(settings, digits(6), 300)
    }

    fn code(text: &str) -> OtpCode {
        OtpCode::parse(text, CodeLength::new(text.len() as u8).unwrap()).unwrap()
    }

    /// The WICG origin-bound one-time code format: only the last line counts; it is
    /// `@` origin-host ` #` code, then optionally ` %` embedded-host, nothing before the `@`.
    fn web_otp(message: &str) -> Option<(String, String)> {
        let last = message.lines().last()?;
        let rest = last.strip_prefix('@')?;
        let (host, rest) = rest.split_once(' ')?;
        let rest = rest.strip_prefix('#')?;
        let (code, embedded) = match rest.split_once(' ') {
            Some((code, embedded)) => (code, Some(embedded)),
            None => (rest, None),
        };
        if let Some(embedded) = embedded {
            let host = embedded.strip_prefix('%')?;
            if host.is_empty() || host.contains(char::is_whitespace) {
                return None;
            }
        }
        let host_ok = !host.is_empty() && !host.contains(char::is_whitespace);
        let code_ok = !code.is_empty() && !code.contains(char::is_whitespace);
        (host_ok && code_ok).then(|| (host.to_owned(), code.to_owned()))
    }

    #[test]
    fn every_built_in_language_has_a_text_that_fits_one_segment_at_ten_digits() {
        let listed: Vec<&str> = TEXTS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once(" = ").unwrap().0)
            .collect();
        assert_eq!(listed, LANGUAGES);
        let compact: Vec<&str> = COMPACT_TEXTS
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_once(" = ").unwrap().0)
            .collect();
        assert_eq!(compact, LANGUAGES);
        let all = Messages::new(MessageSettings::default(), digits(10), 900).unwrap();
        for tag in LANGUAGES {
            let text = all.render(tag, &code("9999999999"), 900, None);
            let text = text.expose_secret();
            assert!(
                text.contains("9999999999") && text.contains("15"),
                "{tag}: {text}"
            );
            assert_eq!(segments(text).1, 1, "{tag}: {text}");
            assert!(!text.contains("http") && !text.contains("www"), "{tag}");
        }
        // The ones that need UCS-2 do, and the Latin ones stay GSM-7 where they can.
        for (tag, encoding) in [
            ("en", Encoding::Gsm7),
            ("fr", Encoding::Gsm7),
            ("de", Encoding::Gsm7),
            ("ru", Encoding::Ucs2),
            ("ar", Encoding::Ucs2),
            ("ja", Encoding::Ucs2),
        ] {
            let text = all.render(tag, &code("123456"), 300, None);
            assert_eq!(segments(text.expose_secret()).0, encoding, "{tag}");
        }
    }

    #[test]
    fn the_language_comes_from_the_caller_then_the_destination_then_the_default() {
        let m = messages(MessageSettings {
            default_locale: Some("fr".into()),
            ..Default::default()
        })
        .unwrap();
        let tag = |t: &str| Locale::parse(t).unwrap();
        assert_eq!(m.language(Some(&tag("pt-BR")), Some(Region::US)), "pt-BR");
        assert_eq!(m.language(Some(&tag("pt-AO")), None), "pt");
        assert_eq!(m.language(Some(&tag("zh-Hant")), None), "zh-TW");
        // A well-formed tag with no text falls back, never fails.
        assert_eq!(m.language(Some(&tag("gsw-CH")), Some(Region::JP)), "ja");
        assert_eq!(m.language(Some(&tag("gsw")), None), "fr");
        assert_eq!(m.language(None, Some(Region::BR)), "pt-BR");
        assert_eq!(m.language(None, Some(Region::US)), "fr");
        assert_eq!(m.language(None, None), "fr");
    }

    #[test]
    fn operators_replace_a_language_and_brand_every_built_in_one() {
        let m = messages(MessageSettings {
            brand: Some("Example".into()),
            default_text: Some("{code} is your {brand} code".into()),
            texts: vec![("fr", "{code} est votre code {brand}".into())],
            ..Default::default()
        })
        .unwrap();
        let text = |tag: &str| {
            m.render(tag, &code("123456"), 300, None)
                .expose_secret()
                .to_owned()
        };
        assert_eq!(text("en"), "123456 is your Example code");
        assert_eq!(text("fr"), "123456 est votre code Example");
        assert_eq!(
            text("de"),
            "Example: Ihr Bestätigungscode lautet 123456. Er ist 5 Minuten gültig."
        );
        for (brand, ok) in [
            ("Example Inc", true),
            ("A".repeat(20).as_str(), true),
            ("A".repeat(21).as_str(), false),
            ("Примeр", false),
            ("a\nb", false),
        ] {
            let result = messages(MessageSettings {
                brand: Some(brand.into()),
                ..Default::default()
            });
            assert_eq!(result.is_ok(), ok, "{brand:?}");
            if !ok {
                assert_eq!(result.unwrap_err(), MessageError::Brand);
            }
        }
        let unbranded = messages(MessageSettings {
            texts: vec![("de", "{brand}: {code}".into())],
            ..Default::default()
        });
        assert_eq!(
            unbranded.unwrap_err(),
            MessageError::NoBrand(TextSetting::Language("de"))
        );
        let both = messages(MessageSettings {
            default_text: Some("{code}".into()),
            texts: vec![("en", "{code}".into())],
            ..Default::default()
        });
        assert_eq!(both.unwrap_err(), MessageError::DefaultTextTwice("en"));
    }

    #[test]
    fn a_template_one_character_over_one_segment_is_refused_unless_multipart_is_allowed() {
        // 6 digits: a GSM-7 text of 154 characters besides the code fits; 155 does not.
        let fits = format!("{{code}}{}", "a".repeat(154));
        let over = format!("{{code}}{}", "a".repeat(155));
        let with = |text: &str, allow_multipart| {
            messages(MessageSettings {
                texts: vec![("sv", text.to_owned())],
                allow_multipart,
                ..Default::default()
            })
        };
        assert!(with(&fits, false).is_ok());
        let MessageError::OverOneSegment(overflow) = with(&over, false).unwrap_err() else {
            panic!("refused for its length");
        };
        assert_eq!(overflow.first, TextSetting::Language("sv"));
        assert_eq!(overflow.languages, ["sv (161 of 160 GSM-7 septets)"]);
        assert_eq!(overflow.digits, 6);
        assert!(with(&over, true).is_ok());
        // UCS-2: 70 units; 64 besides the code.
        let fits = format!("{{code}}{}", "Ж".repeat(64));
        let over = format!("{{code}}{}", "Ж".repeat(65));
        assert!(with(&fits, false).is_ok());
        assert!(with(&over, false).is_err());
        // A longer code is checked at its length.
        let ten = Messages::new(
            MessageSettings {
                texts: vec![("sv", fits)],
                ..Default::default()
            },
            digits(10),
            300,
        );
        assert!(
            matches!(ten, Err(MessageError::OverOneSegment(o)) if o.first == TextSetting::Language("sv"))
        );
    }

    #[test]
    fn web_otp_puts_the_origin_bound_line_last() {
        let m = messages(MessageSettings {
            web_otp_domain: Some("Example.COM".into()),
            ..Default::default()
        })
        .unwrap();
        let text = m.render("en", &code("123456"), 300, None);
        let text = text.expose_secret();
        assert_eq!(
            text,
            "Your verification code is 123456. It expires in 5 minutes.\n\n@example.com #123456"
        );
        assert_eq!(web_otp(text), Some(("example.com".into(), "123456".into())));
        for bad in [
            "localhost",
            "exa mple.com",
            "-example.com",
            "example..com",
            "1.2.3.4",
            "https://example.com",
            "example.com/path",
        ] {
            let err = messages(MessageSettings {
                web_otp_domain: Some(bad.into()),
                ..Default::default()
            });
            assert_eq!(err.unwrap_err(), MessageError::WebOtpDomain, "{bad}");
        }
        // A template with its own WebOTP line would end up with two.
        let twice = messages(MessageSettings {
            web_otp_domain: Some("example.com".into()),
            default_text: Some("{code}\n\n@example.com #{code}".into()),
            ..Default::default()
        });
        assert_eq!(
            twice.unwrap_err(),
            MessageError::OwnWebOtpLine(TextSetting::Default)
        );
        // The parser refuses what the format does not allow.
        assert_eq!(web_otp("code 1\n @example.com #1"), None);
        assert_eq!(web_otp("@example.com #1\nmore"), None);
        assert_eq!(web_otp("@example.com  #1"), None);
        assert_eq!(
            web_otp("@a.com #1 %b.com"),
            Some(("a.com".into(), "1".into()))
        );
    }

    #[test]
    fn android_hashes_are_configured_chosen_and_laid_out_within_140_bytes() {
        let hashes = "FA+9qCX9VSu,AbCdEfGhIj/".to_owned();
        // Both lines, for an 11-character host: every built-in language still fits.
        let m = messages(MessageSettings {
            app_hashes: Some(hashes),
            web_otp_domain: Some("example.com".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(m.app_hash(None), Ok(Some("FA+9qCX9VSu")));
        assert_eq!(m.app_hash(Some("AbCdEfGhIj/")), Ok(Some("AbCdEfGhIj/")));
        assert!(m.app_hash(Some("NotOurHash1")).is_err());
        let text = m.render("en", &code("123456"), 300, Some("FA+9qCX9VSu"));
        let text = text.expose_secret();
        assert_eq!(
            text,
            "Your verification code is 123456. It expires in 5 minutes.\n\nFA+9qCX9VSu\n@example.com #123456"
        );
        assert_eq!(web_otp(text), Some(("example.com".into(), "123456".into())));
        // 140 bytes: 160 GSM-7 septets or 70 UCS-2 units, one segment; every language, at
        // the longest code.
        let android = Messages::new(
            MessageSettings {
                app_hashes: Some("FA+9qCX9VSu".into()),
                ..Default::default()
            },
            digits(10),
            900,
        )
        .unwrap();
        for tag in LANGUAGES {
            let text = android.render(tag, &code("9999999999"), 900, Some("FA+9qCX9VSu"));
            let text = text.expose_secret();
            let bytes = match encoded_length(text) {
                (Encoding::Gsm7, septets) => (septets * 7).div_ceil(8),
                (Encoding::Ucs2, units) => units * 2,
            };
            assert!(bytes <= 140, "{tag}: {bytes} bytes: {text}");
            assert!(text.contains("FA+9qCX9VSu"), "{tag}");
        }
        let none = messages(MessageSettings::default()).unwrap();
        assert_eq!(none.app_hash(None), Ok(None));
        assert!(none.app_hash(Some("FA+9qCX9VSu")).is_err());
        for bad in ["short", "FA+9qCX9VSu1", "FA+9qCX9VS-", "FA+9qCX9VSu,x"] {
            let err = messages(MessageSettings {
                app_hashes: Some(bad.into()),
                ..Default::default()
            });
            assert_eq!(err.unwrap_err(), MessageError::AppHashes, "{bad}");
        }
    }
}
