//! The message settings, each checked on its own before the catalogue checks them together:
//! the brand, the WebOTP host, the Android app hashes and the default language; and why a
//! setting was refused, by setting (the configuration layer names the variables).

use super::Locale;
use super::messages::lookup;
use super::template::{Encoding, TemplateError, encoded_length};

/// The message settings, before they are checked together.
#[derive(Debug, Default)]
pub(crate) struct MessageSettings {
    /// The language of last resort (`en` when unset).
    pub(crate) default_locale: Option<String>,
    /// The default language's text.
    pub(crate) default_text: Option<String>,
    /// Languages' own texts, by tag.
    pub(crate) texts: Vec<(&'static str, String)>,
    pub(crate) brand: Option<String>,
    pub(crate) web_otp_domain: Option<String>,
    /// Comma-separated Android app hashes.
    pub(crate) app_hashes: Option<String>,
    /// Whether a text may take more than one segment.
    pub(crate) allow_multipart: bool,
}

/// The most characters a brand may have, all GSM-7, so it never changes the encoding.
pub(crate) const MAX_BRAND_CHARS: usize = 20;

/// An Android SMS Retriever app hash: 11 characters of `[A-Za-z0-9+/]`.
pub(super) fn is_app_hash(text: &str) -> bool {
    text.len() == 11
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// A host name as WebOTP's `@host` names the origin: two or more dot-separated labels of
/// letters, digits and inner hyphens, at most 63 characters each and 253 in all, the last not
/// all digits (so no IP address). Lower case.
pub(super) fn web_otp_host(text: &str) -> Option<String> {
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

/// The setting a text came from: the default language's text, or one language's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextSetting {
    Default,
    Language(&'static str),
}

/// Why the message settings were refused. The configuration layer names the variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MessageError {
    /// The default language is not a BCP 47 tag.
    DefaultLocale,
    /// The default language has no built-in text.
    DefaultLocaleUnknown,
    Brand,
    WebOtpDomain,
    AppHashes,
    /// Both the default text and the default language's own text are set.
    DefaultTextTwice(&'static str),
    Template(TextSetting, TemplateError),
    /// The text uses `{brand}`, and there is none.
    NoBrand(TextSetting),
    /// The text ends with a WebOTP line of its own.
    OwnWebOtpLine(TextSetting),
    OverOneSegment(Overflow),
}

/// The texts that do not fit one segment, and the shape they were checked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Overflow {
    /// The first text over, to name its setting.
    pub(crate) first: TextSetting,
    /// Each language over, with its length: `sv (161 of 160 GSM-7 septets)`.
    pub(crate) languages: Vec<String>,
    pub(crate) digits: u8,
    pub(crate) brand: Option<String>,
    pub(crate) app_hash: bool,
    pub(crate) web_otp: Option<String>,
}

/// The setting's text when it is set to something other than white space.
pub(super) fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The language of last resort: `en`, or the built-in language `tag` falls back to.
pub(super) fn default_language(tag: Option<&str>) -> Result<&'static str, MessageError> {
    let Some(tag) = given(tag) else {
        return Ok("en");
    };
    let locale = Locale::parse(tag).ok_or(MessageError::DefaultLocale)?;
    lookup(&locale).ok_or(MessageError::DefaultLocaleUnknown)
}

/// The brand, at most [`MAX_BRAND_CHARS`] GSM-7 characters on one line, no braces.
pub(super) fn brand(brand: Option<&str>) -> Result<Option<String>, MessageError> {
    let Some(brand) = given(brand) else {
        return Ok(None);
    };
    let gsm = encoded_length(brand).0 == Encoding::Gsm7;
    let one_line = !brand.contains(['\n', '\r', '\u{c}', '{', '}']);
    if brand.chars().count() > MAX_BRAND_CHARS || !gsm || !one_line {
        return Err(MessageError::Brand);
    }
    Ok(Some(brand.to_owned()))
}

/// The comma-separated app hashes, each of them valid.
pub(super) fn app_hashes(hashes: Option<&str>) -> Result<Vec<String>, MessageError> {
    let hashes: Vec<String> = hashes
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    match hashes.iter().all(|h| is_app_hash(h)) {
        true => Ok(hashes),
        false => Err(MessageError::AppHashes),
    }
}
