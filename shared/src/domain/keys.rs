//! Keyed hashing: what the store holds instead of phone numbers and codes.
//!
//! Keys are derived from `OTP_SECRET` with HMAC-SHA256 under distinct labels, one for the
//! partition key (the phone number), one for codes, one for counters' subjects, one that
//! seals voice calls' answer tickets and one for verification ids, so none can stand in for
//! another. Without the secret, a copy of the table reveals neither numbers nor codes.

use hmac::{Hmac, KeyInit, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::answer::TicketKey;
use super::verification::{self, VerificationKey};
use super::{CounterKind, OtpCode, PhoneNumber};

type HmacSha256 = Hmac<Sha256>;

const PHONE_LABEL: &[u8] = b"otp-lambda/v1/phone-key";
const CODE_LABEL: &[u8] = b"otp-lambda/v1/code-hash";
const COUNTER_LABEL: &[u8] = b"otp-lambda/v1/counter-subject";

/// The partition key for one phone number: hex of its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneKey(String);

impl PhoneKey {
    /// A key as a status URL names it: 64 lowercase hex digits, else none.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The keyed hash of a code, bound to the number it was sent to.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeHash([u8; 32]);

impl CodeHash {
    /// Stands in for the stored hash when no code is pending, so a guess costs the same
    /// comparison either way. No code hashes to it but with probability 2^-256.
    pub(crate) const ABSENT: CodeHash = CodeHash([0; 32]);

    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Compares two hashes in time that does not depend on where they differ.
    pub(crate) fn ct_eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for CodeHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeHash(..)")
    }
}

/// The hashing keys derived from `OTP_SECRET`, one per use.
pub(crate) struct Keyring {
    phone_key: SecretBox<[u8; 32]>,
    code_key: SecretBox<[u8; 32]>,
    counter_key: SecretBox<[u8; 32]>,
    tickets: TicketKey,
    verifications: VerificationKey,
}

impl Keyring {
    pub(crate) fn new(secret: &SecretString) -> Self {
        let derive = |label: &[u8]| {
            let mut mac =
                <HmacSha256 as KeyInit>::new_from_slice(secret.expose_secret().as_bytes())
                    .expect("hmac accepts any key length");
            mac.update(label);
            SecretBox::new(Box::new(mac.finalize().into_bytes().into()))
        };
        Self {
            phone_key: derive(PHONE_LABEL),
            code_key: derive(CODE_LABEL),
            counter_key: derive(COUNTER_LABEL),
            tickets: TicketKey::new(derive(TicketKey::label())),
            verifications: VerificationKey::new(derive(verification::LABEL)),
        }
    }

    /// The key that seals voice calls' answer tickets.
    pub(crate) fn tickets(&self) -> &TicketKey {
        &self.tickets
    }

    /// The key that seals and opens verification ids.
    pub(crate) fn verifications(&self) -> &VerificationKey {
        &self.verifications
    }

    pub(crate) fn phone_key(&self, phone: &PhoneNumber) -> PhoneKey {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.phone_key.expose_secret())
            .expect("hmac accepts any key length");
        mac.update(phone.e164().as_bytes());
        PhoneKey(hex::encode(mac.finalize().into_bytes()))
    }

    /// A keyed hash (128 bits, hex) naming what a counter counts, e.g. a client IP, so the
    /// table holds no address or number range in clear.
    pub(crate) fn counter_subject(&self, kind: CounterKind, value: &str) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.counter_key.expose_secret())
            .expect("hmac accepts any key length");
        mac.update(kind.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// Hash of `code` as sent to the number behind `key`: the same code for another number
    /// hashes differently.
    pub(crate) fn code_hash(&self, key: &PhoneKey, code: &OtpCode) -> CodeHash {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.code_key.expose_secret())
            .expect("hmac accepts any key length");
        mac.update(key.as_str().as_bytes());
        mac.update(b"\0");
        mac.update(code.expose().as_bytes());
        CodeHash(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::CodeLength;
    use crate::domain::CounterKind::{IpSend, Prefix};

    fn hasher(secret: &str) -> Keyring {
        Keyring::new(&SecretString::from(secret))
    }

    fn phone(s: &str) -> PhoneNumber {
        PhoneNumber::parse(s).unwrap()
    }

    fn code(s: &str) -> OtpCode {
        OtpCode::parse(s, CodeLength::default()).unwrap()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn phone_key_is_stable_and_depends_on_the_normalised_number_only() {
        let h = hasher(SECRET);
        let a = h.phone_key(&phone("+14155552671"));
        let b = h.phone_key(&phone("+1 (415) 555-2671"));
        assert_eq!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert!(!a.as_str().contains("4155552671"));
        assert_ne!(a, h.phone_key(&phone("+14155552672")));
    }

    #[test]
    fn hashes_change_with_the_secret() {
        let other = hasher("another-secret-of-at-least-32-bytes!");
        let h = hasher(SECRET);
        let p = phone("+14155552671");
        assert_ne!(h.phone_key(&p), other.phone_key(&p));
        let key = h.phone_key(&p);
        assert_ne!(
            h.code_hash(&key, &code("123456")),
            other.code_hash(&key, &code("123456"))
        );
    }

    #[test]
    fn code_hash_is_bound_to_the_number_and_the_code() {
        let h = hasher(SECRET);
        let k1 = h.phone_key(&phone("+14155552671"));
        let k2 = h.phone_key(&phone("+14155552672"));
        let c = code("123456");
        assert!(h.code_hash(&k1, &c).ct_eq(&h.code_hash(&k1, &c)));
        assert!(!h.code_hash(&k1, &c).ct_eq(&h.code_hash(&k2, &c)));
        assert!(
            !h.code_hash(&k1, &c)
                .ct_eq(&h.code_hash(&k1, &code("123457")))
        );
    }

    #[test]
    fn counter_subjects_depend_on_kind_and_value_and_hide_both() {
        let h = hasher(SECRET);
        let a = h.counter_subject(IpSend, "192.0.2.10");
        assert_eq!(a.len(), 32);
        assert!(!a.contains("192"));
        assert_eq!(a, h.counter_subject(IpSend, "192.0.2.10"));
        assert_ne!(a, h.counter_subject(IpSend, "192.0.2.11"));
        assert_ne!(a, h.counter_subject(Prefix, "192.0.2.10"));
    }

    #[test]
    fn code_hash_is_not_a_plain_digest_of_the_code() {
        use sha2::Digest;
        let h = hasher(SECRET);
        let key = h.phone_key(&phone("+14155552671"));
        let stored = h.code_hash(&key, &code("123456"));
        let plain = Sha256::digest(b"123456");
        assert_ne!(stored.as_bytes(), plain.as_slice());
        assert!(!format!("{stored:?}").contains("123456"));
    }
}
