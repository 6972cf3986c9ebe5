//! Languages: a caller's BCP 47 language tag, checked for well-formedness (RFC 5646's
//! grammar, without the grandfathered tags, by oxilangtag), and the fallback from a tag to a language the
//! service has a text for.

use super::Region;

/// Tags longer than this are refused (RFC 5646 advises supporting at least 35 characters).
pub(crate) const MAX_TAG_LEN: usize = 35;

/// A well-formed BCP 47 language tag, its subtags in canonical case (`pt-BR`, `zh-Hant-TW`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locale {
    tag: String,
    language: String,
    script: Option<String>,
    region: Option<String>,
}

/// Whether an item occurs twice.
fn repeats<T: PartialEq>(items: &[T]) -> bool {
    (1..items.len()).any(|i| items[..i].contains(&items[i]))
}

impl Locale {
    /// Parses `text` as an RFC 5646 language tag (oxilangtag checks the grammar and puts the
    /// subtags in canonical case). None when it is not well-formed, is one of the grandfathered
    /// tags, or is longer than [`MAX_TAG_LEN`].
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() > MAX_TAG_LEN {
            return None;
        }
        let tag = oxilangtag::LanguageTag::parse_and_normalize(text).ok()?;
        // Grandfathered tags (`i-klingon`, `zh-min-nan`) have no language subtag to go on.
        let language = tag.primary_language();
        if !(2..=8).contains(&language.len()) || language == "i" {
            return None;
        }
        // RFC 5646 also forbids a repeated variant or extension singleton (2.2.5, 2.2.6).
        let variants: Vec<&str> = tag.variant_subtags().collect();
        let singletons: Vec<char> = tag.extension_subtags().map(|(s, _)| s).collect();
        if repeats(&variants) || repeats(&singletons) {
            return None;
        }
        Some(Self {
            language: language.to_owned(),
            script: tag.script().map(str::to_owned),
            region: tag.region().map(str::to_owned),
            tag: tag.into_inner(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The tags to try, most specific first (RFC 4647 lookup, on language, script and region):
    /// `pt-BR` -> `pt-BR`, `pt`; Chinese by script or region to `zh-TW` (traditional) or
    /// `zh-CN` (simplified).
    pub(crate) fn candidates(&self) -> Vec<String> {
        // The deprecated codes Java's and so Android's Locale still report.
        let language = match self.language.as_str() {
            "iw" => "he",
            "in" => "id",
            other => other,
        };
        if language == "zh" {
            let traditional = self.script.as_deref() == Some("Hant")
                || (self.script.is_none()
                    && matches!(self.region.as_deref(), Some("TW" | "HK" | "MO")));
            return vec![if traditional { "zh-TW" } else { "zh-CN" }.to_owned()];
        }
        let mut candidates = Vec::new();
        if let Some(region) = &self.region {
            candidates.push(format!("{language}-{region}"));
        }
        candidates.push(language.to_owned());
        candidates
    }
}

/// The language most people in `region` read their codes in, when the service has a text
/// for it. Where several languages share a country, the one most used for SMS; English
/// wherever English is the usual language of such messages (India, for one).
pub(crate) fn default_for_region(region: Region) -> Option<&'static str> {
    let code = region.to_string();
    let language = match code.as_str() {
        "ES" | "MX" | "AR" | "CO" | "CL" | "PE" | "VE" | "EC" | "GT" | "CU" | "BO" | "DO"
        | "HN" | "PY" | "SV" | "NI" | "CR" | "PA" | "UY" | "GQ" => "es",
        "BR" => "pt-BR",
        "PT" | "AO" | "MZ" | "CV" | "GW" | "ST" | "TL" => "pt",
        "FR" | "MC" | "LU" | "SN" | "CI" | "CM" | "ML" | "BF" | "NE" | "TG" | "BJ" | "GA"
        | "CG" | "CD" | "GN" | "MG" | "HT" | "PF" | "NC" | "RE" | "GP" | "MQ" | "GF" | "YT"
        | "PM" => "fr",
        "DE" | "AT" | "LI" => "de",
        "CH" => "de",
        "IT" | "SM" | "VA" => "it",
        "NL" | "BE" | "SR" | "AW" | "CW" => "nl",
        "PL" => "pl",
        "RU" | "BY" | "KZ" | "KG" => "ru",
        "UA" => "uk",
        "TR" => "tr",
        "SA" | "AE" | "EG" | "IQ" | "JO" | "KW" | "LB" | "LY" | "MA" | "DZ" | "TN" | "OM"
        | "QA" | "BH" | "SY" | "YE" | "SD" | "PS" | "MR" => "ar",
        "IL" => "he",
        "ID" => "id",
        "JP" => "ja",
        "KR" => "ko",
        "CN" => "zh-CN",
        "TW" | "HK" | "MO" => "zh-TW",
        "VN" => "vi",
        "TH" => "th",
        "SE" => "sv",
        _ => return None,
    };
    Some(language)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_tags_parse_in_canonical_case() {
        for (text, canonical) in [
            ("en", "en"),
            ("pt-br", "pt-BR"),
            ("PT-BR", "pt-BR"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("sr-Latn-RS", "sr-Latn-RS"),
            ("es-419", "es-419"),
            ("de-CH-1996", "de-CH-1996"),
            ("sl-rozaj-biske", "sl-rozaj-biske"),
            ("zh-yue-HK", "zh-yue-HK"),
            ("en-US-u-ca-gregory", "en-US-u-ca-gregory"),
            ("en-a-bbb-x-a-ccc", "en-a-bbb-x-a-ccc"),
            ("de-x-private1", "de-x-private1"),
        ] {
            let locale = Locale::parse(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(locale.as_str(), canonical);
        }
    }

    #[test]
    fn malformed_tags_are_refused() {
        for text in [
            "",
            "e",
            "englishlanguage",
            "en_US",
            "en-",
            "-en",
            "en--US",
            "en-US-US",
            "de-1996-1996",
            "en-a",
            "en-a-b-c",
            "en-u-ca-u-nu",
            "en-x",
            "i-klingon",
            "x-private",
            "fr-ça",
            "123",
            "en-US-thisisaverylongvariantsubtagxx",
            &format!("en-{}", "x-abcdefgh".repeat(4)),
        ] {
            assert_eq!(Locale::parse(text), None, "{text}");
        }
        assert!(Locale::parse(&"a".repeat(2)).is_some());
        assert_eq!(Locale::parse(&format!("en-x-{}", "a".repeat(31))), None);
    }

    #[test]
    fn lookups_fall_back_from_region_to_language() {
        let candidates = |text: &str| Locale::parse(text).unwrap().candidates();
        assert_eq!(candidates("pt-BR"), ["pt-BR", "pt"]);
        assert_eq!(candidates("pt-PT"), ["pt-PT", "pt"]);
        assert_eq!(candidates("fr-CA-x-foo"), ["fr-CA", "fr"]);
        assert_eq!(candidates("en"), ["en"]);
        assert_eq!(candidates("zh"), ["zh-CN"]);
        assert_eq!(candidates("zh-HK"), ["zh-TW"]);
        assert_eq!(candidates("zh-Hant"), ["zh-TW"]);
        assert_eq!(candidates("zh-Hans-HK"), ["zh-CN"]);
        assert_eq!(candidates("zh-TW"), ["zh-TW"]);
        assert_eq!(candidates("iw-IL"), ["he-IL", "he"]);
        assert_eq!(candidates("in"), ["id"]);
    }
}
