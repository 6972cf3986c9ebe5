//! Which text a code goes out in, and its shape: the language (the caller's, the
//! destination's, or the default), the operator's brand, and the lines browsers and phones
//! read to fill the code in by themselves (WebOTP's `@domain #code`, Android's app hash).
//! Every combination is rendered and checked once, at start: a text that would cost a second
//! segment, or break the autofill format, stops the function instead of going out.

use secrecy::SecretString;

use super::locale::{Locale, default_for_region};
use super::message::{Encoding, MessageTemplate, encoded_length, segments, single_segment};
use super::{CodeLength, OtpCode, Region};

/// The built-in texts, `<tag> = <text>` per line (`shared/messages/texts.txt`).
const TEXTS: &str = include_str!("../../messages/texts.txt");

/// The languages with a built-in text, and the variable that replaces each one's text.
pub(crate) const LANGUAGES: [(&str, &str); 23] = [
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

/// The built-in text of `tag`.
pub(crate) fn builtin_text(tag: &str) -> Option<&'static str> {
    TEXTS
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(" = "))
        .find(|(t, _)| *t == tag)
        .map(|(_, text)| text)
}

/// The most characters a brand may have, all GSM-7, so it never changes the encoding.
pub(crate) const MAX_BRAND_CHARS: usize = 20;

/// An Android SMS Retriever app hash: 11 characters of `[A-Za-z0-9+/]`.
pub(crate) fn is_app_hash(text: &str) -> bool {
    text.len() == 11
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// A host name as WebOTP's `@host` names the origin: two or more dot-separated labels of
/// letters, digits and inner hyphens, at most 63 characters each and 253 in all, the last not
/// all digits (so no IP address). Lower case.
pub(crate) fn web_otp_host(text: &str) -> Option<String> {
    let host = text.trim().to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let ok = host.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && !labels.last()?.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(host)
}

/// Why the message settings were refused: the variable, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageError {
    pub(crate) var: &'static str,
    pub(crate) problem: String,
}

fn error(var: &'static str, problem: impl Into<String>) -> MessageError {
    MessageError {
        var,
        problem: problem.into(),
    }
}

/// Every language's text, and what goes around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    /// Each built-in language with its text (the operator's, or the built-in one).
    texts: Vec<(&'static str, &'static str, MessageTemplate)>,
    /// The language of last resort.
    default: &'static str,
    brand: Option<String>,
    web_otp: Option<String>,
    app_hashes: Vec<String>,
}

/// The message settings as read from the environment, before they are checked together.
#[derive(Debug, Default)]
pub(crate) struct MessageSettings {
    /// `OTP_DEFAULT_LOCALE`.
    pub(crate) default_locale: Option<String>,
    /// `OTP_MESSAGE_TEMPLATE`: the default language's text.
    pub(crate) default_text: Option<String>,
    /// `OTP_MESSAGE_TEMPLATE_<TAG>`, by tag.
    pub(crate) texts: Vec<(&'static str, String)>,
    pub(crate) brand: Option<String>,
    pub(crate) web_otp_domain: Option<String>,
    pub(crate) app_hashes: Option<String>,
    pub(crate) allow_multipart: bool,
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
    /// as Android's SMS Retriever also requires) unless `allow_multipart`.
    pub(crate) fn new(
        settings: MessageSettings,
        digits: CodeLength,
        code_ttl: u64,
    ) -> Result<Self, MessageError> {
        let default = match settings.default_locale.as_deref().map(str::trim) {
            None | Some("") => "en",
            Some(tag) => {
                let locale = Locale::parse(tag).ok_or_else(|| {
                    error(
                        "OTP_DEFAULT_LOCALE",
                        "must be a BCP 47 language tag, e.g. en or pt-BR",
                    )
                })?;
                lookup(&locale).ok_or_else(|| {
                    error(
                        "OTP_DEFAULT_LOCALE",
                        "has no built-in text (see shared/messages/texts.txt)",
                    )
                })?
            }
        };
        let brand = match settings.brand.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(brand) => {
                let gsm = segments(brand).0 == Encoding::Gsm7;
                if brand.chars().count() > MAX_BRAND_CHARS
                    || !gsm
                    || brand.contains(['\n', '\r', '\u{c}', '{', '}'])
                {
                    return Err(error(
                        "OTP_BRAND",
                        format!("must be at most {MAX_BRAND_CHARS} GSM-7 characters on one line"),
                    ));
                }
                Some(brand.to_owned())
            }
        };
        let web_otp = match settings.web_otp_domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(domain) => Some(web_otp_host(domain).ok_or_else(|| {
                error("OTP_WEBOTP_DOMAIN", "must be a host name, e.g. example.com")
            })?),
        };
        let app_hashes: Vec<String> = settings
            .app_hashes
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect();
        if !app_hashes.iter().all(|h| is_app_hash(h)) {
            return Err(error(
                "OTP_ANDROID_APP_HASH",
                "must be app hashes of exactly 11 characters of A-Z, a-z, 0-9, + and /, comma-separated",
            ));
        }
        let default_var = LANGUAGES
            .iter()
            .find(|(tag, _)| *tag == default)
            .map_or("OTP_MESSAGE_TEMPLATE", |(_, var)| var);
        if settings.default_text.is_some() && settings.texts.iter().any(|(t, _)| *t == default) {
            return Err(error(
                "OTP_MESSAGE_TEMPLATE",
                format!("set either OTP_MESSAGE_TEMPLATE or {default_var}, not both"),
            ));
        }
        let mut texts = Vec::new();
        for (tag, var) in LANGUAGES {
            let given = settings
                .texts
                .iter()
                .find(|(t, _)| *t == tag)
                .map(|(_, text)| (var, text.clone()))
                .or_else(|| {
                    (tag == default)
                        .then(|| {
                            settings
                                .default_text
                                .clone()
                                .map(|t| ("OTP_MESSAGE_TEMPLATE", t))
                        })
                        .flatten()
                });
            let (var, text) = match given {
                Some((var, text)) => (var, text),
                // The brand leads a built-in text, in every language.
                None => {
                    let text = builtin_text(tag).expect("every language has a text");
                    let text = match brand {
                        Some(_) => format!("{{brand}}: {text}"),
                        None => text.to_owned(),
                    };
                    (var, text)
                }
            };
            let template = MessageTemplate::parse(&text).map_err(|e| error(var, e.to_string()))?;
            if template.as_str().contains("{brand}") && brand.is_none() {
                return Err(error(var, "uses {brand}, and OTP_BRAND is not set"));
            }
            if web_otp.is_some()
                && template
                    .as_str()
                    .lines()
                    .last()
                    .is_some_and(|l| l.trim_start().starts_with('@'))
            {
                return Err(error(
                    var,
                    "ends with its own WebOTP line; OTP_WEBOTP_DOMAIN adds it",
                ));
            }
            texts.push((tag, var, template));
        }
        let messages = Self {
            texts,
            default,
            brand,
            web_otp,
            app_hashes,
        };
        if !settings.allow_multipart {
            messages.check(digits, code_ttl)?;
        }
        Ok(messages)
    }

    /// Every language, shaped as it will be sent, with the longest code and app hash: one
    /// segment each.
    fn check(&self, digits: CodeLength, code_ttl: u64) -> Result<(), MessageError> {
        let code = "9".repeat(usize::from(digits.get()));
        let hash = self.app_hashes.first().map(String::as_str);
        let mut over = Vec::new();
        for (tag, var, template) in &self.texts {
            let text = self.shape(template, &code, code_ttl, hash);
            let (encoding, length) = encoded_length(&text);
            if length > single_segment(encoding) {
                let unit = match encoding {
                    Encoding::Gsm7 => "GSM-7 septets",
                    Encoding::Ucs2 => "UCS-2 units",
                };
                over.push((
                    *var,
                    format!("{tag} ({length} of {} {unit})", single_segment(encoding)),
                ));
            }
        }
        let Some((var, _)) = over.first() else {
            return Ok(());
        };
        let mut with = vec![format!("a {}-digit code (OTP_DIGITS)", digits.get())];
        if let Some(brand) = &self.brand {
            with.push(format!("the brand \"{brand}\" (OTP_BRAND)"));
        }
        if hash.is_some() {
            with.push("the app hash line (OTP_ANDROID_APP_HASH)".to_owned());
        }
        if let Some(host) = &self.web_otp {
            with.push(format!("the line @{host} (OTP_WEBOTP_DOMAIN)"));
        }
        let languages: Vec<&str> = over.iter().map(|(_, l)| l.as_str()).collect();
        Err(error(
            var,
            format!(
                "more than one SMS segment in {} with {}; shorten those texts (OTP_MESSAGE_TEMPLATE_<TAG>), the brand or the domain, or set OTP_ALLOW_MULTIPART=true",
                languages.join(", "),
                with.join(", ")
            ),
        ))
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
            .find(|(tag, _, _)| *tag == language)
            .or_else(|| self.texts.iter().find(|(tag, _, _)| *tag == self.default))
            .map(|(_, _, t)| t)
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

/// The built-in language a tag falls back to, if any.
fn lookup(locale: &Locale) -> Option<&'static str> {
    locale.candidates().iter().find_map(|c| {
        LANGUAGES
            .iter()
            .find(|(tag, _)| tag == c)
            .map(|(tag, _)| *tag)
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::domain::message::Encoding;

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
        let languages: Vec<&str> = LANGUAGES.iter().map(|(tag, _)| *tag).collect();
        assert_eq!(listed, languages);
        let all = Messages::new(MessageSettings::default(), digits(10), 900).unwrap();
        for (tag, _) in LANGUAGES {
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
                assert_eq!(result.unwrap_err().var, "OTP_BRAND");
            }
        }
        let unbranded = messages(MessageSettings {
            texts: vec![("de", "{brand}: {code}".into())],
            ..Default::default()
        });
        assert_eq!(unbranded.unwrap_err().var, "OTP_MESSAGE_TEMPLATE_DE");
        let both = messages(MessageSettings {
            default_text: Some("{code}".into()),
            texts: vec![("en", "{code}".into())],
            ..Default::default()
        });
        assert_eq!(both.unwrap_err().var, "OTP_MESSAGE_TEMPLATE");
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
        let err = with(&over, false).unwrap_err();
        assert_eq!(err.var, "OTP_MESSAGE_TEMPLATE_SV");
        assert!(
            err.problem
                .contains("in sv (161 of 160 GSM-7 septets) with a 6-digit code"),
            "{}",
            err.problem
        );
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
        assert_eq!(ten.unwrap_err().var, "OTP_MESSAGE_TEMPLATE_SV");
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
            assert_eq!(err.unwrap_err().var, "OTP_WEBOTP_DOMAIN", "{bad}");
        }
        // A template with its own WebOTP line would end up with two.
        let twice = messages(MessageSettings {
            web_otp_domain: Some("example.com".into()),
            default_text: Some("{code}\n\n@example.com #{code}".into()),
            ..Default::default()
        });
        assert_eq!(twice.unwrap_err().var, "OTP_MESSAGE_TEMPLATE");
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
        for (tag, _) in LANGUAGES {
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
            assert_eq!(err.unwrap_err().var, "OTP_ANDROID_APP_HASH", "{bad}");
        }
    }
}
