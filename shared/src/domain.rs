//! Domain types: parsed once at the edge, trusted everywhere after.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// Why a piece of user input was refused. The text is safe to show to the caller: it never
/// repeats the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub(crate) String);

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }
}

/// A phone number that parsed as a valid number and is held in E.164 form (`+14155552671`).
///
/// `Debug` and `Display` print a masked form (`+1415*****71`), so a number that reaches a log
/// line by accident is still masked. Use [`PhoneNumber::e164`] where the full number is needed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country: Option<phonenumber::country::Id>,
}

impl PhoneNumber {
    /// Parses an international number (it must start with `+` and a country code). Spaces,
    /// dashes, dots and brackets are accepted; the result is normalised to E.164.
    pub fn parse(input: &str) -> Result<Self, InputError> {
        let trimmed = input.trim();
        let invalid = || {
            InputError::new(
                "phoneNumber must be a valid phone number in international format, e.g. +14155552671",
            )
        };
        if trimmed.is_empty() || trimmed.len() > 32 || !trimmed.starts_with('+') {
            return Err(invalid());
        }
        let parsed = phonenumber::parse(None, trimmed).map_err(|_| invalid())?;
        if !phonenumber::is_valid(&parsed) {
            return Err(invalid());
        }
        let e164 = parsed.format().mode(phonenumber::Mode::E164).to_string();
        let country = parsed.country().id();
        Ok(Self { e164, country })
    }

    /// The full number in E.164 form. Only the SMS request and the keyed hash should see it.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The ISO 3166 region the number belongs to, when the metadata says.
    pub fn country(&self) -> Option<phonenumber::country::Id> {
        self.country
    }

    /// The number with its middle digits hidden, for logs: `+1415*****71`.
    pub fn masked(&self) -> String {
        mask_digits(&self.e164)
    }
}

/// Masks a number for logs: keeps a few leading digits (the country code and a little more) and
/// the last two, and hides at least half of the digits (rounded down).
pub fn mask_digits(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if n < 4 {
        return "*".repeat(n.max(1));
    }
    let tail = 2;
    let head = (n - tail - n / 2).min(4);
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

/// Number of digits in a code: 6 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLength(u8);

impl CodeLength {
    pub const MIN: u8 = 6;
    pub const MAX: u8 = 10;

    pub fn new(digits: u8) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&digits)
            .then_some(Self(digits))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// `10^digits`: how many distinct codes there are.
    pub fn modulus(self) -> u64 {
        10u64.pow(u32::from(self.0))
    }
}

impl Default for CodeLength {
    fn default() -> Self {
        Self(6)
    }
}

/// A one-time code: exactly [`CodeLength`] ASCII digits. Held as a secret so `Debug` never
/// prints it.
pub struct OtpCode(SecretString);

impl OtpCode {
    /// Parses a code typed by a user. Surrounding whitespace is not accepted: the code is
    /// exactly `len` ASCII digits.
    pub fn parse(input: &str, len: CodeLength) -> Result<Self, InputError> {
        if input.len() == usize::from(len.get()) && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(SecretString::from(input)))
        } else {
            Err(InputError::new(format!(
                "otp must be exactly {} digits",
                len.get()
            )))
        }
    }

    /// Formats a freshly drawn value below `10^digits` with leading zeros.
    pub(crate) fn from_value(value: u64, len: CodeLength) -> Self {
        debug_assert!(value < len.modulus());
        let width = usize::from(len.get());
        Self(SecretString::from(format!("{value:0width$}")))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([REDACTED])")
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
    fn code_parsing_accepts_exactly_the_configured_number_of_ascii_digits() {
        let six = CodeLength::new(6).unwrap();
        assert_eq!(OtpCode::parse("012345", six).unwrap().expose(), "012345");
        for bad in [
            "12345",
            "1234567",
            " 123456",
            "123456 ",
            "12345a",
            "１２３４５６",
            "12 456",
            "",
        ] {
            assert!(OtpCode::parse(bad, six).is_err(), "{bad:?}");
        }
        let eight = CodeLength::new(8).unwrap();
        assert!(OtpCode::parse("12345678", eight).is_ok());
        assert!(OtpCode::parse("123456", eight).is_err());
    }

    #[test]
    fn code_debug_output_never_shows_the_digits() {
        let code = OtpCode::parse("987654", CodeLength::default()).unwrap();
        assert!(!format!("{code:?}").contains("987654"));
    }

    #[test]
    fn code_length_allows_six_to_ten_digits() {
        assert!(CodeLength::new(5).is_none());
        assert!(CodeLength::new(11).is_none());
        assert_eq!(CodeLength::new(10).unwrap().modulus(), 10_000_000_000);
    }
}
