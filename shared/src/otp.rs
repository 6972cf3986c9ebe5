//! Code generation: RFC 4226 HOTP over a fresh random key per code, with rejection sampling so
//! every one of the `10^digits` codes is equally likely.

use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha1::Sha1;

use crate::domain::{CodeLength, OtpCode};

/// Length in bytes of the random HOTP key drawn for each code (160 bits, the size RFC 4226
/// recommends for HMAC-SHA1).
const KEY_LEN: usize = 20;

/// RFC 4226 section 5.3: HMAC-SHA1 of the 8-byte big-endian counter, then dynamic truncation to
/// a 31-bit value.
pub fn hotp_truncated(key: &[u8], counter: u64) -> u32 {
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

/// The RFC 4226 HOTP value with `digits` decimal digits (the truncated value modulo
/// `10^digits`). Kept for interoperability and the RFC test vectors; [`generate_code`] does not
/// take this modulo, which is biased.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u64 {
    u64::from(hotp_truncated(key, counter)) % 10u64.pow(digits)
}

/// Draws codes from HOTP outputs without modulo bias.
///
/// Each draw uses one 31-bit HOTP value, or two joined into 62 bits when `10^digits` does not fit
/// in 31 bits (10 digits). A draw at or above the largest multiple of `10^digits` that fits is
/// thrown away and the counter moves on.
pub(crate) fn unbiased_value(
    key: &[u8],
    len: CodeLength,
    mut next: impl FnMut(&[u8], u64) -> u32,
) -> u64 {
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

/// Draws a new code: a fresh 160-bit HOTP key from the thread's CSPRNG (ChaCha, seeded from the
/// operating system), then unbiased HOTP values from it.
pub fn generate_code(len: CodeLength) -> OtpCode {
    let mut key = [0u8; KEY_LEN];
    rand::rng().fill_bytes(&mut key);
    let value = unbiased_value(&key, len, hotp_truncated);
    key.fill(0);
    OtpCode::from_value(value, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC4226_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn hotp_matches_rfc4226_appendix_d() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.into_iter().enumerate() {
            assert_eq!(
                hotp(RFC4226_SECRET, counter as u64, 6),
                want,
                "counter {counter}"
            );
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
            let a = generate_code(len);
            let b = generate_code(len);
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
            let code = generate_code(len);
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
