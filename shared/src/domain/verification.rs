//! Verification ids: the name a send gives its verification, which the caller then verifies,
//! reads and cancels by.
//!
//! An id is 27 bytes in URL-safe base64 (36 characters): a 122-bit random nonce; then 62 bits
//! holding the number (50), the ten minutes it was issued in (11, counted modulo 2048: about
//! two weeks, longer than any retention) and the channel (1), encrypted with AES-256-CTR under
//! the nonce as the IV; then a 32-bit tag, HMAC-SHA256 over all before it (encrypt then MAC).
//! Both keys come from `OTP_SECRET`. So an id finds its number's item without the caller
//! naming the number, says nothing about the number to anyone without the secret, and cannot
//! be altered: a changed id opens with probability 2^-32, and costs no request otherwise.
//!
//! The phone item holds a 128-bit keyed digest of its current verification's id (and of the one
//! before it), and every write by id is conditional on it: that digest is what makes an id the
//! verification's.

use aws_lc_rs::cipher::{AES_256, EncryptingKey, EncryptionContext, UnboundCipherKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use rand::RngExt;
use secrecy::{ExposeSecret, SecretBox};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Channel, PhoneNumber};

type HmacSha256 = Hmac<Sha256>;

/// The label `OTP_SECRET` is keyed under for ids.
pub(crate) const LABEL: &[u8] = b"otp-lambda/v1/verification-id";
/// Bytes in an id, and characters in its text.
const ID_BYTES: usize = 27;
pub(crate) const ID_CHARS: usize = 36;
/// The nonce's 16 bytes (the last one's low 6 bits carry the sealed part), then the rest of
/// the sealed part, then the tag.
const NONCE_BYTES: usize = 16;
const SEALED_END: usize = 23;
/// Ten-minute units are counted from 2026-01-01T00:00:00Z, modulo 2^11 (14.2 days).
const EPOCH: u64 = 1_767_225_600;
const UNIT: u64 = 600;
const UNIT_BITS: u32 = 11;
/// The longest retention an id can carry: less than 2^11 units.
pub(crate) const MAX_RETENTION: u64 = 14 * 86_400;
/// E.164 numbers have at most 15 digits: 50 bits.
const NUMBER_BITS: u32 = 50;
/// The sealed part: the channel, the unit of issue and the number.
const SEALED_BITS: u32 = 1 + UNIT_BITS + NUMBER_BITS;

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

/// HMAC-SHA256 under `key`, over `purpose`, a separator and `parts`: one sub-key's output per
/// purpose.
fn mac_with(key: &[u8], purpose: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as KeyInit>::new_from_slice(key).expect("hmac accepts any key length");
    mac.update(purpose);
    mac.update(b"\0");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Seals and opens ids with the keys derived from `OTP_SECRET`: the HMAC key, and the AES key
/// (derived from it, expanded once, at init).
pub(crate) struct VerificationKey {
    mac: SecretBox<[u8; 32]>,
    cipher: EncryptingKey,
}

impl VerificationKey {
    pub(crate) fn new(mac: SecretBox<[u8; 32]>) -> Self {
        let mut derived = mac_with(mac.expose_secret(), b"ctr", &[]);
        let key = UnboundCipherKey::new(&AES_256, &derived).expect("a 256-bit key");
        derived.fill(0);
        let cipher = EncryptingKey::ctr(key).expect("AES-256 supports CTR");
        Self { mac, cipher }
    }

    fn mac(&self, purpose: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        mac_with(self.mac.expose_secret(), purpose, parts)
    }

    /// AES-256-CTR's keystream from `nonce`, as the sealed part's 62 bits.
    fn keystream(&self, nonce: &[u8; NONCE_BYTES]) -> u64 {
        let mut stream = [0u8; 8];
        self.cipher
            .less_safe_encrypt(&mut stream, EncryptionContext::Iv128((*nonce).into()))
            .expect("CTR encrypts any length");
        u64::from_be_bytes(stream) & ((1 << SEALED_BITS) - 1)
    }

    /// The 32-bit tag over the nonce and the sealed part.
    fn tag(&self, head: &[u8]) -> [u8; 4] {
        self.mac(b"tag", &[head])[..4]
            .try_into()
            .expect("4 of 32 bytes")
    }

    fn digest(&self, id: &[u8; ID_BYTES]) -> VerificationDigest {
        let full = self.mac(b"digest", &[id]);
        VerificationDigest(full[..16].try_into().expect("16 of 32 bytes"))
    }

    /// The nonce of an id: its first 16 bytes with the sealed part's 6 bits cleared.
    fn nonce(bytes: &[u8; ID_BYTES]) -> [u8; NONCE_BYTES] {
        let mut nonce: [u8; NONCE_BYTES] = bytes[..NONCE_BYTES].try_into().expect("16 bytes");
        nonce[NONCE_BYTES - 1] &= 0xC0;
        nonce
    }

    /// A fresh id for a code sent to `phone` by `channel` at `now`, and its digest.
    pub(crate) fn issue(
        &self,
        phone: &PhoneNumber,
        channel: Channel,
        now: u64,
    ) -> (VerificationId, VerificationDigest) {
        let number: u64 = phone.e164()[1..].parse().expect("E.164 digits");
        let unit = (now.saturating_sub(EPOCH) / UNIT) % (1 << UNIT_BITS);
        let voice = u64::from(channel == Channel::Voice);
        let plain = (voice << (UNIT_BITS + NUMBER_BITS)) | (unit << NUMBER_BITS) | number;
        let mut bytes = [0u8; ID_BYTES];
        bytes[..NONCE_BYTES].copy_from_slice(&rand::rng().random::<[u8; NONCE_BYTES]>());
        let nonce = Self::nonce(&bytes);
        let sealed = (plain ^ self.keystream(&nonce)).to_be_bytes();
        // 62 bits: the low 6 of sealed[0] into the nonce's last byte, then 7 bytes.
        bytes[NONCE_BYTES - 1] = nonce[NONCE_BYTES - 1] | sealed[0];
        bytes[NONCE_BYTES..SEALED_END].copy_from_slice(&sealed[1..]);
        let tag = self.tag(&bytes[..SEALED_END]);
        bytes[SEALED_END..].copy_from_slice(&tag);
        let digest = self.digest(&bytes);
        (VerificationId(bytes), digest)
    }

    /// What `id` names, if this service issued it at most `retention` seconds (rounded up to
    /// ten minutes) before `now`.
    pub(crate) fn open(&self, id: &VerificationId, now: u64, retention: u64) -> Option<Opened> {
        let bytes = &id.0;
        let tag = self.tag(&bytes[..SEALED_END]);
        if !bool::from(tag.ct_eq(&bytes[SEALED_END..])) {
            return None;
        }
        let mut sealed = [0u8; 8];
        sealed[0] = bytes[NONCE_BYTES - 1] & 0x3F;
        sealed[1..].copy_from_slice(&bytes[NONCE_BYTES..SEALED_END]);
        let plain = u64::from_be_bytes(sealed) ^ self.keystream(&Self::nonce(bytes));
        let number = plain & ((1 << NUMBER_BITS) - 1);
        let unit = (plain >> NUMBER_BITS) & ((1 << UNIT_BITS) - 1);
        let channel = if plain >> (UNIT_BITS + NUMBER_BITS) == 1 {
            Channel::Voice
        } else {
            Channel::Sms
        };
        // The latest unit with the id's value modulo 2^11 at or before now (a minute ahead:
        // the clocks of two instances may differ by that much at a unit's turn).
        let now_unit = (now + 60).saturating_sub(EPOCH) / UNIT;
        let age = (now_unit + (1 << UNIT_BITS) - unit) % (1 << UNIT_BITS);
        let issued_at = EPOCH + now_unit.checked_sub(age)? * UNIT;
        if issued_at + retention.min(MAX_RETENTION) + UNIT <= now {
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
        assert_eq!(opened.issued_at, NOW - (NOW - EPOCH) % UNIT);
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
    fn another_key_a_changed_bit_or_an_old_id_does_not_open() {
        let k = key(1);
        let (id, _) = k.issue(&phone("+14155552671"), Channel::Sms, NOW);
        assert!(key(2).open(&id, NOW, DAY).is_none());
        for bit in 0..ID_BYTES * 8 {
            let mut bytes = id.0;
            bytes[bit / 8] ^= 1 << (bit % 8);
            let changed = VerificationId(bytes);
            assert!(k.open(&changed, NOW, DAY).is_none(), "bit {bit}");
        }
        assert!(k.open(&id, NOW + DAY - 60, DAY).is_some());
        assert!(k.open(&id, NOW + DAY + UNIT, DAY).is_none());
        assert!(k.open(&id, NOW - UNIT, DAY).is_none());
        // The longest retention still tells the unit of issue from the next one with its value
        // modulo 2^11 (where the id reads as new again: the store tells those apart).
        assert!(
            k.open(&id, NOW + MAX_RETENTION - 60, MAX_RETENTION)
                .is_some()
        );
        assert!(
            k.open(&id, NOW + MAX_RETENTION + UNIT, MAX_RETENTION)
                .is_none()
        );
        let wrapped = NOW + (1 << UNIT_BITS) * UNIT;
        let reopened = k.open(&id, wrapped, MAX_RETENTION).unwrap();
        assert!(reopened.issued_at > NOW);
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
