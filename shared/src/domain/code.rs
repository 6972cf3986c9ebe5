//! One-time codes: their length, the code itself (a secret), and how a fresh one is drawn:
//! RFC 4226 HOTP over a fresh random key per code, with rejection sampling so every one of the
//! `10^digits` codes is equally likely.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;

use super::InputError;

/// Number of digits in a code: 6 to 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLength(u8);

impl CodeLength {
    pub(crate) const MIN: u8 = 6;
    pub(crate) const MAX: u8 = 10;

    pub fn new(digits: u8) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&digits)
            .then_some(Self(digits))
    }

    pub fn get(self) -> u8 {
        self.0
    }

    /// `10^digits`: how many distinct codes there are.
    pub(crate) fn modulus(self) -> u64 {
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
            Err(InputError::CodeDigits(len.get()))
        }
    }

    /// Draws a new code: a fresh 160-bit HOTP key from the thread's CSPRNG (ChaCha, seeded
    /// from the operating system), then unbiased HOTP values from it.
    pub(crate) fn generate(len: CodeLength) -> Self {
        let mut key = [0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        let value = unbiased_value(&key, len, hotp_truncated);
        key.fill(0);
        let width = usize::from(len.get());
        Self(SecretString::from(format!("{value:0width$}")))
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OtpCode([REDACTED])")
    }
}

/// Length in bytes of the random HOTP key drawn for each code (160 bits, the size RFC 4226
/// recommends for HMAC-SHA1).
const KEY_LEN: usize = 20;

/// RFC 4226 section 5.3: HMAC-SHA1 of the 8-byte big-endian counter, then dynamic truncation to
/// a 31-bit value.
fn hotp_truncated(key: &[u8], counter: u64) -> u32 {
    let mut mac =
        <Hmac<Sha1> as KeyInit>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ])
}

/// Draws codes from HOTP outputs without modulo bias.
///
/// Each draw uses one 31-bit HOTP value, or two joined into 62 bits when `10^digits` does not fit
/// in 31 bits (10 digits). A draw at or above the largest multiple of `10^digits` that fits is
/// thrown away and the counter moves on.
fn unbiased_value(key: &[u8], len: CodeLength, mut next: impl FnMut(&[u8], u64) -> u32) -> u64 {
    let modulus = len.modulus();
    let (bits, words) = if modulus <= 1 << 31 { (31, 1) } else { (62, 2) };
    let space: u64 = 1 << bits;
    let limit = space - space % modulus;
    let mut counter = 0u64;
    loop {
        let mut value = 0u64;
        for _ in 0..words {
            value = (value << 31) | u64::from(next(key, counter));
            counter += 1;
        }
        if value < limit {
            return value % modulus;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    const RFC4226_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn hotp_matches_rfc4226_appendix_d() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            let hotp = hotp_truncated(RFC4226_SECRET, counter as u64) % 1_000_000;
            assert_eq!(hotp, want, "counter {counter}");
        }
    }

    #[test]
    fn hotp_truncated_values_match_rfc4226_appendix_d() {
        let expected: [u32; 10] = [
            1284755224, 1094287082, 137359152, 1726969429, 1640338314, 868254676, 1918287922,
            82162583, 673399871, 645520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(hotp_truncated(RFC4226_SECRET, counter as u64), want);
        }
    }

    #[test]
    fn draws_at_or_above_the_largest_multiple_are_redrawn() {
        // 2^31 = 2_147_483_648; the largest multiple of 10^6 below it is 2_147_000_000.
        let six = CodeLength::new(6).unwrap();
        let mut values = [2_147_000_000u32, 2_147_483_647, 1_234_567].into_iter();
        let drawn = unbiased_value(&[], six, |_, _| values.next().unwrap());
        assert_eq!(drawn, 234_567);
        let mut values = [2_146_999_999u32].into_iter();
        assert_eq!(
            unbiased_value(&[], six, |_, _| values.next().unwrap()),
            999_999
        );
    }

    #[test]
    fn ten_digit_codes_join_two_hotp_values() {
        let ten = CodeLength::new(10).unwrap();
        let mut counters = Vec::new();
        let drawn = unbiased_value(&[], ten, |_, c| {
            counters.push(c);
            if c == 0 { 5 } else { 7 }
        });
        assert_eq!(counters, vec![0, 1]);
        // (5 << 31 | 7) = 10_737_418_247, reduced below 10^10.
        assert_eq!(drawn, 737_418_247);
    }

    #[test]
    fn codes_have_the_configured_length_and_change_each_time() {
        for digits in CodeLength::MIN..=CodeLength::MAX {
            let len = CodeLength::new(digits).unwrap();
            let a = OtpCode::generate(len);
            let b = OtpCode::generate(len);
            assert_eq!(a.expose().len(), usize::from(digits));
            assert!(a.expose().bytes().all(|c| c.is_ascii_digit()));
            // Two equal draws from 10^6 or more values: about one in a million.
            assert_ne!(a.expose(), b.expose());
        }
    }

    /// Pearson's chi-squared statistic over the ten digit values, per position. With 9 degrees
    /// of freedom, 45 is exceeded by chance with probability about 1e-6; a generator that never
    /// draws one digit (say, an exclusive upper bound of 9) scores in the thousands.
    fn max_chi_squared(len: CodeLength, samples: usize) -> f64 {
        let width = usize::from(len.get());
        let mut counts = vec![[0usize; 10]; width];
        for _ in 0..samples {
            let code = OtpCode::generate(len);
            for (pos, b) in code.expose().bytes().enumerate() {
                counts[pos][usize::from(b - b'0')] += 1;
            }
        }
        let expected = samples as f64 / 10.0;
        counts
            .iter()
            .map(|row| {
                row.iter()
                    .map(|&c| (c as f64 - expected).powi(2) / expected)
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }

    #[test]
    fn every_digit_appears_in_every_position_with_equal_frequency() {
        for digits in [6, 10] {
            let len = CodeLength::new(digits).unwrap();
            let chi2 = max_chi_squared(len, 50_000);
            assert!(chi2 < 45.0, "{digits} digits: chi-squared {chi2}");
        }
    }
}
