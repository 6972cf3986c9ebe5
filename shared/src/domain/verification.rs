//! Verification ids: the name a send gives its verification, which the caller then verifies,
//! reads and cancels by.
//!
//! An id is 27 bytes in URL-safe base64 (36 characters): 16 random bytes, then the number,
//! the minute of issue and the channel encrypted with AES-256-CTR under that random IV, then
//! a tag (HMAC-SHA256 over all before it). Keys come from `OTP_SECRET`. So an id finds its
//! number's item without the caller naming the number, and says nothing about the number to
//! anyone without the secret.
//!
//! The phone item holds a 128-bit keyed digest of its current verification's id, and every
//! write by id is conditional on it: that digest, not the tag, is what makes an id the
//! verification's. The short tag and the structure checks (zero bits, a plausible minute, a
//! valid number) only keep a forged id from costing a database request: one passes them with
//! probability under 2^-14 × 10^-4.

use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;

use super::{Channel, MINUTE, PhoneNumber};

type HmacSha256 = Hmac<Sha256>;

/// The label `OTP_SECRET` is keyed under for ids.
pub(crate) const LABEL: &[u8] = b"otp-lambda/v1/verification-id";
/// Bytes in an id, and characters in its text.
const ID_BYTES: usize = 27;
pub(crate) const ID_CHARS: usize = 36;
const IV_BYTES: usize = 16;
const SEALED_BYTES: usize = 10;
/// Minutes are counted from 2026-01-01T00:00:00Z, in 24 bits (until 2057).
const MINUTE_EPOCH: u64 = 1_767_225_600;
const MINUTE_BITS: u32 = 24;
/// E.164 numbers have at most 15 digits: 50 bits.
const NUMBER_BITS: u32 = 50;

/// How a verification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationStatus {
    /// Its code can still be verified.
    Pending,
    /// Its code was verified.
    Approved,
    /// Cancelled before its code was verified.
    Canceled,
    /// Its code expired, or a newer code for the number replaced it.
    Expired,
    /// Every guess its code allows was counted.
    MaxAttemptsReached,
}

impl VerificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::MaxAttemptsReached => "max_attempts_reached",
        }
    }
}

/// A verification's id as the caller holds it: well-formed, not yet known to be ours.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationId([u8; ID_BYTES]);

impl VerificationId {
    /// An id as text: exactly 36 URL-safe base64 characters, else none.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != ID_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        bytes.try_into().ok().map(Self)
    }

    pub fn as_string(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }
}

impl std::fmt::Debug for VerificationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationId(..)")
    }
}

/// The keyed digest of an id, as the phone item holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationDigest([u8; 16]);

impl VerificationDigest {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for VerificationDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationDigest(..)")
    }
}

/// What an id of ours opens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Opened {
    pub phone: PhoneNumber,
    pub channel: Channel,
    /// Epoch seconds of the minute it was issued in.
    pub issued_at: u64,
    pub digest: VerificationDigest,
}

/// Seals and opens ids with the key derived from `OTP_SECRET`.
pub(crate) struct VerificationKey(SecretBox<[u8; 32]>);

impl VerificationKey {
    pub(crate) fn new(key: SecretBox<[u8; 32]>) -> Self {
        Self(key)
    }

    /// HMAC-SHA256 under a sub-key for `purpose`, over `parts`.
    fn mac(&self, purpose: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.0.expose_secret())
            .expect("hmac accepts any key length");
        mac.update(purpose);
        mac.update(b"\0");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// XORs `data` with AES-256-CTR's keystream from `iv` (encrypts and decrypts alike).
    fn ctr(&self, iv: &[u8; IV_BYTES], data: &mut [u8]) {
        let key = self.mac(b"ctr", &[]);
        let key = UnboundCipherKey::new(&AES_256, &key).expect("a 256-bit key");
        let cipher = EncryptingKey::ctr(key).expect("AES-256 supports CTR");
        cipher
            .less_safe_encrypt(data, EncryptionContext::Iv128((*iv).into()))
            .expect("CTR encrypts any length");
    }

    /// The one-byte tag over the IV and the sealed part.
    fn tag(&self, head: &[u8]) -> u8 {
        self.mac(b"tag", &[head])[0]
    }

    fn digest(&self, id: &[u8; ID_BYTES]) -> VerificationDigest {
        let full = self.mac(b"digest", &[id]);
        VerificationDigest(full[..16].try_into().expect("16 of 32 bytes"))
    }

    /// A fresh id for a code sent to `phone` by `channel` at `now`, and its digest.
    pub(crate) fn issue(
        &self,
        phone: &PhoneNumber,
        channel: Channel,
        now: u64,
    ) -> (VerificationId, VerificationDigest) {
        let number: u64 = phone.e164()[1..].parse().expect("E.164 digits");
        let minute = (now.saturating_sub(MINUTE_EPOCH) / MINUTE).min((1 << MINUTE_BITS) - 1);
        let voice = u128::from(channel == Channel::Voice);
        let plain = (voice << (NUMBER_BITS + MINUTE_BITS))
            | (u128::from(number) << MINUTE_BITS)
            | u128::from(minute);
        let iv: [u8; IV_BYTES] = rand::rng().random();
        let mut bytes = [0u8; ID_BYTES];
        bytes[..IV_BYTES].copy_from_slice(&iv);
        let sealed = &mut bytes[IV_BYTES..IV_BYTES + SEALED_BYTES];
        sealed.copy_from_slice(&plain.to_be_bytes()[16 - SEALED_BYTES..]);
        self.ctr(&iv, sealed);
        bytes[ID_BYTES - 1] = self.tag(&bytes[..ID_BYTES - 1]);
        let digest = self.digest(&bytes);
        (VerificationId(bytes), digest)
    }

    /// What `id` names, if this service issued it (at most `retention` seconds before `now`).
    pub(crate) fn open(&self, id: &VerificationId, now: u64, retention: u64) -> Option<Opened> {
        let bytes = &id.0;
        let tag_ok = self.tag(&bytes[..ID_BYTES - 1]) == bytes[ID_BYTES - 1];
        let iv: [u8; IV_BYTES] = bytes[..IV_BYTES].try_into().expect("16 bytes");
        let mut sealed = [0u8; SEALED_BYTES];
        sealed.copy_from_slice(&bytes[IV_BYTES..IV_BYTES + SEALED_BYTES]);
        self.ctr(&iv, &mut sealed);
        let mut wide = [0u8; 16];
        wide[16 - SEALED_BYTES..].copy_from_slice(&sealed);
        let plain = u128::from_be_bytes(wide);
        // 80 bits hold the channel (1), the number (50) and the minute (24): 5 are zero.
        let spare_zero = plain >> (1 + NUMBER_BITS + MINUTE_BITS) == 0;
        if !(tag_ok && spare_zero) {
            return None;
        }
        let minute = (plain & ((1 << MINUTE_BITS) - 1)) as u64;
        let number = ((plain >> MINUTE_BITS) & ((1 << NUMBER_BITS) - 1)) as u64;
        let channel = if plain >> (NUMBER_BITS + MINUTE_BITS) == 1 {
            Channel::Voice
        } else {
            Channel::Sms
        };
        let issued_at = MINUTE_EPOCH + minute * MINUTE;
        // Issued within the retention (a minute's rounding allowed), and not in the future.
        if issued_at + retention + MINUTE <= now || issued_at > now {
            return None;
        }
        let phone = PhoneNumber::parse(&format!("+{number}")).ok()?;
        Some(Opened {
            phone,
            channel,
            issued_at,
            digest: self.digest(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> VerificationKey {
        VerificationKey::new(SecretBox::new(Box::new([byte; 32])))
    }

    const NOW: u64 = 1_800_000_000;
    const DAY: u64 = 86_400;

    fn phone(text: &str) -> PhoneNumber {
        PhoneNumber::parse(text).unwrap()
    }

    #[test]
    fn an_id_is_36_url_safe_characters_and_opens_to_its_number_channel_and_minute() {
        let k = key(1);
        let (id, digest) = k.issue(&phone("+14155552671"), Channel::Voice, NOW);
        let text = id.as_string();
        assert_eq!(text.len(), 36);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let opened = k
            .open(&VerificationId::parse(&text).unwrap(), NOW, DAY)
            .unwrap();
        assert_eq!(opened.phone.e164(), "+14155552671");
        assert_eq!(opened.channel, Channel::Voice);
        assert_eq!(opened.issued_at, NOW - NOW % 60);
        assert_eq!(opened.digest, digest);
        let (sms, _) = k.issue(&phone("+442079460000"), Channel::Sms, NOW);
        let opened = k.open(&sms, NOW, DAY).unwrap();
        assert_eq!(
            (opened.phone.e164(), opened.channel),
            ("+442079460000", Channel::Sms)
        );
    }

    #[test]
    fn ids_for_one_number_differ_and_do_not_show_it() {
        let k = key(1);
        let p = phone("+14155552671");
        let (a, da) = k.issue(&p, Channel::Sms, NOW);
        let (b, db) = k.issue(&p, Channel::Sms, NOW);
        assert_ne!(a, b);
        assert_ne!(da, db);
        for id in [a.as_string(), b.as_string()] {
            assert!(!id.contains("4155552671"));
        }
        assert!(!format!("{a:?}{da:?}").contains(&a.as_string()));
    }

    #[test]
    fn another_key_a_changed_byte_or_an_old_id_does_not_open() {
        let k = key(1);
        let (id, _) = k.issue(&phone("+14155552671"), Channel::Sms, NOW);
        assert!(key(2).open(&id, NOW, DAY).is_none());
        for i in 0..ID_BYTES {
            let mut bytes = id.0;
            bytes[i] ^= 0x01;
            assert!(
                k.open(&VerificationId(bytes), NOW, DAY).is_none(),
                "byte {i}"
            );
        }
        assert!(k.open(&id, NOW + DAY - 60, DAY).is_some());
        assert!(k.open(&id, NOW + DAY + 60, DAY).is_none());
        assert!(k.open(&id, NOW - 120, DAY).is_none());
    }

    #[test]
    fn malformed_text_is_no_id() {
        let k = key(1);
        let (id, _) = k.issue(&phone("+14155552671"), Channel::Sms, NOW);
        let text = id.as_string();
        assert!(VerificationId::parse(&text[1..]).is_none());
        assert!(VerificationId::parse(&format!("{text}A")).is_none());
        assert!(VerificationId::parse(&text.replace(&text[..1], "+")).is_none());
        assert!(VerificationId::parse("").is_none());
    }

    #[test]
    fn random_ids_almost_never_open() {
        let k = key(1);
        let opened = (0..20_000)
            .filter(|_| {
                let bytes: [u8; ID_BYTES] = rand::rng().random();
                k.open(&VerificationId(bytes), NOW, DAY).is_some()
            })
            .count();
        assert_eq!(opened, 0);
    }
}
