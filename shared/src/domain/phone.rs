//! Phone numbers: parsed and normalised to E.164, with their region, line type and range, and
//! masked wherever they are printed.

use std::fmt;

use super::InputError;

/// A phone number that parsed as a valid number and is held in E.164 form (`+14155552671`).
///
/// `Debug` and `Display` print a masked form (`+1415*****71`), so a number that reaches a log
/// line by accident is still masked. Use [`PhoneNumber::e164`] where the full number is needed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
    country: Option<Region>,
    number_type: NumberType,
}

pub use rlibphonenumber::Region;

/// What kind of line a number belongs to, as the numbering plan metadata says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NumberType {
    Mobile,
    FixedLineOrMobile,
    FixedLine,
    TollFree,
    PremiumRate,
    SharedCost,
    PersonalNumber,
    Voip,
    Pager,
    Uan,
    Voicemail,
    Other,
}

impl NumberType {
    pub(crate) const ALL: [NumberType; 12] = [
        NumberType::Mobile,
        NumberType::FixedLineOrMobile,
        NumberType::FixedLine,
        NumberType::TollFree,
        NumberType::PremiumRate,
        NumberType::SharedCost,
        NumberType::PersonalNumber,
        NumberType::Voip,
        NumberType::Pager,
        NumberType::Uan,
        NumberType::Voicemail,
        NumberType::Other,
    ];

    /// The name used in configuration and logs (`mobile`, `premium_rate`, ...).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NumberType::Mobile => "mobile",
            NumberType::FixedLineOrMobile => "fixed_line_or_mobile",
            NumberType::FixedLine => "fixed_line",
            NumberType::TollFree => "toll_free",
            NumberType::PremiumRate => "premium_rate",
            NumberType::SharedCost => "shared_cost",
            NumberType::PersonalNumber => "personal_number",
            NumberType::Voip => "voip",
            NumberType::Pager => "pager",
            NumberType::Uan => "uan",
            NumberType::Voicemail => "voicemail",
            NumberType::Other => "other",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    fn from_metadata(t: rlibphonenumber::PhoneNumberType) -> Self {
        use rlibphonenumber::PhoneNumberType as T;
        match t {
            T::Mobile => NumberType::Mobile,
            T::FixedLineOrMobile => NumberType::FixedLineOrMobile,
            T::FixedLine => NumberType::FixedLine,
            T::TollFree => NumberType::TollFree,
            T::PremiumRate => NumberType::PremiumRate,
            T::SharedCost => NumberType::SharedCost,
            T::PersonalNumber => NumberType::PersonalNumber,
            T::VoIP => NumberType::Voip,
            T::Pager => NumberType::Pager,
            T::UAN => NumberType::Uan,
            T::VoiceMail => NumberType::Voicemail,
            _ => NumberType::Other,
        }
    }
}

impl PhoneNumber {
    /// Parses an international number (it must start with `+` and a country code). Spaces,
    /// dashes, dots and brackets are accepted; the result is normalised to E.164.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let trimmed = input.trim();
        let invalid = || InputError::PhoneNumber;
        if trimmed.is_empty() || trimmed.len() > 32 || !trimmed.starts_with('+') {
            return Err(invalid());
        }
        // Digits and the separators people write, nothing else: the phone library would
        // read keypad letters as digits (`+1415555CALL`) and drop other characters.
        let allowed = |c: char| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')');
        if !trimmed[1..].chars().all(allowed) {
            return Err(invalid());
        }
        let parsed = rlibphonenumber::PhoneNumber::parse(trimmed, None).map_err(|_| invalid())?;
        if parsed.extension.is_some() || !parsed.is_valid() {
            return Err(invalid());
        }
        Ok(Self {
            e164: parsed
                .format_as(rlibphonenumber::PhoneNumberFormat::E164)
                .into_owned(),
            country_code: u16::try_from(parsed.country_code).map_err(|_| invalid())?,
            country: parsed.get_region_code(),
            number_type: NumberType::from_metadata(parsed.get_type()),
        })
    }

    /// Loads the numbering plan metadata now, on a background thread, so the first request
    /// does not wait for it. Call once at start-up.
    pub(crate) fn preload_metadata() {
        std::thread::spawn(|| {
            let _ = Self::parse("+14155552671");
        });
    }

    /// The full number in E.164 form. Only the SMS request and the keyed hash should see it.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The ISO 3166 region the number belongs to, when the metadata says.
    pub(crate) fn country(&self) -> Option<Region> {
        self.country
    }

    /// The kind of line, from the numbering plan.
    pub(crate) fn number_type(&self) -> NumberType {
        self.number_type
    }

    /// The country calling code and the first `national_digits` digits of the national
    /// number, e.g. `+1415` for `+14155552671` with 3: the range a number belongs to.
    pub(crate) fn prefix(&self, national_digits: usize) -> String {
        let code_len = self.country_code.to_string().len();
        let end = (1 + code_len + national_digits).min(self.e164.len());
        self.e164[..end].to_owned()
    }

    /// The number with its middle digits hidden, for logs: `+1415*****71`.
    pub fn masked(&self) -> String {
        mask_digits(&self.e164)
    }

    /// The range of [`prefix`](Self::prefix) as far as it may be logged beside the masked
    /// number: cut to the leading digits the mask shows anyway, so the two lines together
    /// never reveal more than the mask alone.
    pub(crate) fn prefix_for_logs(&self, national_digits: usize) -> String {
        let prefix = self.prefix(national_digits);
        let digits = self.e164.len() - 1;
        prefix[..prefix.len().min(1 + mask_head(digits))].to_owned()
    }
}

/// How many leading digits [`mask_digits`] shows of an `n`-digit number (`n` at least 4).
fn mask_head(n: usize) -> usize {
    (n - MASK_TAIL - n / 2).min(4)
}

const MASK_TAIL: usize = 2;

/// Masks a number for logs: keeps a few leading digits (the country code and a little more) and
/// the last two, and hides at least half of the digits (rounded down).
pub fn mask_digits(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if n < 4 {
        return "*".repeat(n.max(1));
    }
    let tail = MASK_TAIL;
    let head = mask_head(n);
    let mut out = String::with_capacity(n + 1);
    if number.starts_with('+') {
        out.push('+');
    }
    out.extend(&digits[..head]);
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(&digits[n - tail..]);
    out
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PhoneNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_in_any_common_notation_normalise_to_the_same_e164() {
        let cases = [
            "+14155552671",
            "+1 (415) 555-2671",
            "+1 415 555 2671",
            "+1.415.555.2671",
            "  +1-415-555-2671 ",
        ];
        for case in cases {
            let phone = PhoneNumber::parse(case).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(phone.e164(), "+14155552671", "{case}");
        }
    }

    #[test]
    fn valid_numbers_from_several_regions_parse() {
        let cases = [
            ("+447911123456", "+447911123456"),
            ("+44 7911 123456", "+447911123456"),
            ("+49 1512 3456789", "+4915123456789"),
            ("+91 98765 43210", "+919876543210"),
            ("+61 412 345 678", "+61412345678"),
        ];
        for (input, e164) in cases {
            let phone = PhoneNumber::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.e164(), e164);
        }
    }

    #[test]
    fn invalid_numbers_are_refused() {
        let cases = [
            "",
            "   ",
            "4155552671",
            "+",
            "+1",
            "+1415555267",
            "+141555526711234",
            "+999123456789",
            "hello",
            "+44 20",
            "+1 (415) 555-2671 ext. 9999999999999999999999",
        ];
        for case in cases {
            assert!(
                PhoneNumber::parse(case).is_err(),
                "{case:?} should be refused"
            );
        }
    }

    #[test]
    fn masked_number_hides_the_middle_digits() {
        let phone = PhoneNumber::parse("+14155552671").unwrap();
        assert_eq!(phone.masked(), "+1415*****71");
        assert_eq!(format!("{phone}"), "+1415*****71");
        assert_eq!(format!("{phone:?}"), "PhoneNumber(\"+1415*****71\")");
        assert_eq!(mask_digits("+4915123456789"), "+4915*******89");
        assert_eq!(mask_digits("+12345678"), "+12****78");
        assert_eq!(mask_digits("12"), "**");
    }

    #[test]
    fn numbers_carry_their_country_type_and_range() {
        let us = PhoneNumber::parse("+14155552671").unwrap();
        assert_eq!(us.country(), Some(Region::US));
        assert_eq!(us.number_type(), NumberType::FixedLineOrMobile);
        assert_eq!(us.prefix(3), "+1415");
        let uk_mobile = PhoneNumber::parse("+447400123456").unwrap();
        assert_eq!(uk_mobile.country(), Some(Region::GB));
        assert_eq!(uk_mobile.number_type(), NumberType::Mobile);
        assert_eq!(uk_mobile.prefix(4), "+447400");
        // +44 7911 is a Guernsey range: the region comes from the number, not its code.
        let guernsey = PhoneNumber::parse("+447911123456").unwrap();
        assert_eq!(guernsey.country(), Some(Region::GG));
        let cases = [
            ("+442079460000", NumberType::FixedLine),
            ("+448001234567", NumberType::TollFree),
            ("+449098790000", NumberType::PremiumRate),
            ("+447012345678", NumberType::PersonalNumber),
            ("+445612345678", NumberType::Voip),
            ("+445512345678", NumberType::Uan),
            ("+18005550100", NumberType::TollFree),
            ("+19005550100", NumberType::PremiumRate),
        ];
        for (number, kind) in cases {
            assert_eq!(
                PhoneNumber::parse(number).unwrap().number_type(),
                kind,
                "{number}"
            );
        }
    }

    #[test]
    fn only_digits_and_common_separators_are_accepted() {
        for bad in [
            "+1415555CALL",
            "+1 415 555 267l",
            "+1415555267１",
            "+1_415_555_2671",
        ] {
            assert!(PhoneNumber::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PhoneNumber::parse("+1 (415) 555-2671").is_ok());
    }

    #[test]
    fn logged_ranges_never_show_more_than_the_mask() {
        for (number, digits, logged) in [
            ("+14155552671", 3, "+1415"),
            ("+14155552671", 6, "+1415"),
            ("+447400123456", 1, "+447"),
            ("+447400123456", 6, "+4474"),
            ("+6837123", 4, "+68"),
        ] {
            let phone = PhoneNumber::parse(number).unwrap();
            assert_eq!(phone.prefix_for_logs(digits), logged, "{number}");
            assert!(phone.masked().starts_with(logged), "{number}");
        }
    }

    #[test]
    fn number_type_names_round_trip() {
        for t in NumberType::ALL {
            assert_eq!(NumberType::parse(t.as_str()), Some(t));
        }
        assert_eq!(NumberType::parse("satellite"), None);
    }
}
