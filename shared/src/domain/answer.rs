//! The answer ticket of a voice call: the code and its language, sealed (AES-256-GCM under a
//! key derived from `OTP_SECRET`) into the answer URL Plivo fetches when the call is answered,
//! so the code is never stored in plain text anywhere.
//!
//! The ticket is bound to its call and its time: the sealed data's associated data is the
//! number's item key, a random call id and the expiry, all in the URL beside it, so none of
//! them can be changed without the ticket failing to open. The callback spends the call id
//! once, so a replayed URL speaks nothing.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use super::{OtpCode, PhoneKey};

/// How long an answer URL can be used after the call is placed: the ring time (Plivo's
/// `ring_timeout`, 45 s here), the queue before it, and a margin.
pub const ANSWER_TTL: u64 = 180;

const LABEL: &[u8] = b"otp-lambda/v1/voice-answer";

/// What an answer URL carries besides the sealed ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnswerBinding {
    pub key: PhoneKey,
    /// A random id for the call (128 bits, hex): spent when the answer is fetched.
    pub call_id: String,
    /// Epoch seconds after which the ticket is refused.
    pub expires_at: u64,
}

impl AnswerBinding {
    pub(crate) fn new(key: PhoneKey, now: u64) -> Self {
        Self {
            key,
            call_id: hex::encode(rand::rng().random::<[u8; 16]>()),
            expires_at: now + ANSWER_TTL,
        }
    }

    fn aad(&self) -> Vec<u8> {
        let text = format!(
            "{}\0{}\0{}",
            self.key.as_str(),
            self.call_id,
            self.expires_at
        );
        [LABEL, b"\0", text.as_bytes()].concat()
    }
}

/// What a ticket opens to: the code's digits and the language to speak them in.
pub(crate) struct Answer {
    pub code: SecretString,
    pub language: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

/// Why a ticket did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TicketError {
    #[error("the answer URL has expired")]
    Expired,
    #[error("the answer URL is not one this service made")]
    Invalid,
}

/// Seals and opens tickets with the key derived from `OTP_SECRET`.
pub(crate) struct TicketKey(SecretBox<[u8; 32]>);

impl TicketKey {
    pub(crate) fn new(key: SecretBox<[u8; 32]>) -> Self {
        Self(key)
    }

    pub(crate) fn label() -> &'static [u8] {
        LABEL
    }

    fn aead(&self) -> LessSafeKey {
        let key = UnboundKey::new(&AES_256_GCM, self.0.expose_secret()).expect("a 256-bit key");
        LessSafeKey::new(key)
    }

    /// The ticket for `code` in `language`, bound to `binding` (URL-safe base64).
    pub(crate) fn seal(&self, binding: &AnswerBinding, code: &OtpCode, language: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::rng().random();
        let mut data = format!("{}\0{language}", code.expose()).into_bytes();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(binding.aad()),
                &mut data,
            )
            .expect("sealing cannot fail for this size");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&data);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens `ticket` for `binding` at `now`: expired, tampered with, or sealed under another
    /// key or for another binding, it does not open.
    pub(crate) fn open(
        &self,
        binding: &AnswerBinding,
        ticket: &str,
        now: u64,
    ) -> Result<Answer, TicketError> {
        if binding.expires_at <= now {
            return Err(TicketError::Expired);
        }
        // A ticket from the future beyond its lifetime was not made by this service's clock.
        if binding.expires_at > now + ANSWER_TTL + 60 {
            return Err(TicketError::Invalid);
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(ticket)
            .map_err(|_| TicketError::Invalid)?;
        if bytes.len() <= NONCE_LEN || bytes.len() > 256 {
            return Err(TicketError::Invalid);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| TicketError::Invalid)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(binding.aad()), &mut sealed)
            .map_err(|_| TicketError::Invalid)?;
        let text = std::str::from_utf8(plain).map_err(|_| TicketError::Invalid)?;
        let (code, language) = text.split_once('\0').ok_or(TicketError::Invalid)?;
        Ok(Answer {
            code: SecretString::from(code.to_owned()),
            language: language.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CodeLength, Keyring, PhoneNumber};

    fn keyring(secret: &str) -> Keyring {
        Keyring::new(&SecretString::from(secret))
    }

    fn setup() -> (Keyring, AnswerBinding, OtpCode) {
        let keys = keyring("0123456789abcdef0123456789abcdef");
        let phone = PhoneNumber::parse("+14155552671").unwrap();
        let binding = AnswerBinding::new(keys.phone_key(&phone), 1_000);
        let code = OtpCode::parse("042917", CodeLength::default()).unwrap();
        (keys, binding, code)
    }

    #[test]
    fn a_ticket_opens_to_its_code_and_language_until_it_expires() {
        let (keys, binding, code) = setup();
        let ticket = keys.tickets().seal(&binding, &code, "pt-BR");
        assert!(!ticket.contains("042917"));
        let answer = keys.tickets().open(&binding, &ticket, 1_000).unwrap();
        assert_eq!(answer.code.expose_secret(), "042917");
        assert_eq!(answer.language, "pt-BR");
        assert!(
            keys.tickets()
                .open(&binding, &ticket, 1_000 + ANSWER_TTL - 1)
                .is_ok()
        );
        let late = keys.tickets().open(&binding, &ticket, 1_000 + ANSWER_TTL);
        assert_eq!(late.unwrap_err(), TicketError::Expired);
        assert!(!format!("{answer:?}").contains("042917"));
    }

    #[test]
    fn a_ticket_opens_for_nothing_but_its_own_binding_and_key() {
        let (keys, binding, code) = setup();
        let ticket = keys.tickets().seal(&binding, &code, "en");
        let other_call = AnswerBinding {
            call_id: "0".repeat(32),
            ..binding.clone()
        };
        let later = AnswerBinding {
            expires_at: binding.expires_at + 60,
            ..binding.clone()
        };
        let other_number = AnswerBinding {
            key: keys.phone_key(&PhoneNumber::parse("+14155552672").unwrap()),
            ..binding.clone()
        };
        for wrong in [other_call, later, other_number] {
            let opened = keys.tickets().open(&wrong, &ticket, 1_000);
            assert_eq!(opened.unwrap_err(), TicketError::Invalid);
        }
        let other_secret = keyring("another-secret-0123456789abcdef-0123");
        let opened = other_secret.tickets().open(&binding, &ticket, 1_000);
        assert_eq!(opened.unwrap_err(), TicketError::Invalid);
        // Any changed character.
        let mut bytes = ticket.clone().into_bytes();
        for i in [0, bytes.len() / 2, bytes.len() - 1] {
            let original = bytes[i];
            bytes[i] = if original == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(bytes.clone()).unwrap();
            assert!(keys.tickets().open(&binding, &tampered, 1_000).is_err());
            bytes[i] = original;
        }
        for junk in ["", "%%", "AAAA"] {
            assert!(keys.tickets().open(&binding, junk, 1_000).is_err());
        }
        // An expiry beyond what this service ever sets.
        let far = AnswerBinding {
            expires_at: 1_000 + 10 * ANSWER_TTL,
            ..binding
        };
        let ticket = keys.tickets().seal(&far, &code, "en");
        assert_eq!(
            keys.tickets().open(&far, &ticket, 1_000).unwrap_err(),
            TicketError::Invalid
        );
    }
}
