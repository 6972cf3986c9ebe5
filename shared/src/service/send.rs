//! Sending a code: [`SendOtp`], its steps in order, each a function of its own: the caller's
//! choices checked, the destination screened, the send budgets reserved, the code's hash
//! stored, the code delivered by SMS or call, and on failure the code withdrawn.

use std::sync::Arc;

use secrecy::ExposeSecret;

use super::core::{Core, Reservation};
use crate::clock::Clock;
use crate::config::{OtpConfig, VoiceConfig};
use crate::domain::{
    AnswerBinding, Caller, Channel, CodeHash, CounterKind, HOUR, Limit, Locale, MINUTE, MessageRef,
    Messages, OtpCode, PhoneKey, PhoneNumber, Spoken, Tripped, VerificationId, segments,
};
use crate::error::{OtpError, chain};
use crate::metrics::Metrics;
use crate::sms::callback_url::{AnswerUrl, StatusUrl};
use crate::sms::{SmsSender, VoiceCaller};
use crate::store::{Budget, NewCode, OtpStore, PendingCode, SendDecision};

/// A code is on its way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The verification the code belongs to.
    pub verification_id: VerificationId,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// The SMS segments the message is billed as (none for a call).
    pub segments: u32,
    pub channel: Channel,
}

/// What the caller chose of the message: its language (else the destination's, else the
/// default) and, among the configured ones, the Android app hash (else the first).
#[derive(Debug, Clone, Default)]
pub struct MessageChoice {
    pub locale: Option<Locale>,
    pub app_hash: Option<String>,
    /// SMS (the default) or a voice call.
    pub channel: Channel,
}

/// A code stored for a number and not yet delivered: what withdrawing it needs, and where
/// Plivo reports its SMS's delivery (receipts on).
struct Issued {
    key: PhoneKey,
    hash: CodeHash,
    verification_id: VerificationId,
    status_url: Option<String>,
    /// The code it replaced, restored if this one is withdrawn.
    previous: Option<PendingCode>,
}

/// Everything `send-otp` needs, built once per execution environment.
pub struct SendOtp<S, M> {
    pub(super) core: Core<S>,
    sms: M,
    messages: Messages,
    /// The voice channel, when the deployment places calls.
    voice: Option<VoiceConfig>,
}

impl<S: OtpStore, M: SmsSender + VoiceCaller> SendOtp<S, M> {
    pub fn new(config: OtpConfig, store: S, sms: M, clock: Arc<dyn Clock>) -> Self {
        Self {
            core: Core::new(config, store, clock),
            sms,
            messages: Messages::default(),
            voice: None,
        }
    }

    /// Also reads codes aloud by phone call, when asked to (`"channel": "voice"`). Calls
    /// need `OTP_PUBLIC_BASE_URL`, where Plivo fetches what to say.
    pub fn with_voice(mut self, voice: Option<VoiceConfig>) -> Self {
        self.voice = voice;
        self
    }

    /// Sends codes in these texts and shapes (default: the built-in texts, plain).
    pub fn with_messages(mut self, messages: Messages) -> Self {
        self.messages = messages;
        self
    }

    /// Records a metric per request (see [`Metrics`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.core.metrics = metrics;
        self
    }

    /// Stores the hash of a fresh code, then sends the code, with the caller's choices for
    /// the message. A choice the deployment cannot honour (an app hash it does not have, a
    /// call when it places none) is refused before anything is counted, stored or sent.
    ///
    /// The write comes first so every delivered code can be verified; if the SMS or call
    /// finally fails, the stored code is taken back and the code it replaced, if still
    /// valid, is valid again. A failed send still counts against the cooldown and the caps:
    /// Plivo may have delivered (and billed) it. By voice, the same limits apply as to an
    /// SMS, and the call budgets besides; the code is never stored in plain text: the answer
    /// URL carries it sealed (see [`AnswerBinding`]).
    pub async fn send_with(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        choice: &MessageChoice,
    ) -> Result<Sent, OtpError> {
        let app_hash = self
            .messages
            .app_hash(choice.app_hash.as_deref())
            .map_err(|problem| OtpError::InvalidRequest(problem.to_owned()))?;
        let call_base = self.call_base(choice.channel)?;
        self.screen(phone, choice.channel)?;
        let now = self.core.clock.now();
        let reserved = self
            .reserve_send(phone, caller, choice.channel, now)
            .await?;
        let code = OtpCode::generate(self.core.config.code_length);
        let issued = self
            .store_code(phone, &code, choice.channel, reserved, now)
            .await?;
        let language = self
            .messages
            .language(choice.locale.as_ref(), phone.country());
        let delivered = match call_base {
            Some(base) => self.call(phone, &issued, code, language, base, now).await,
            None => self.text(phone, &issued, code, language, app_hash).await,
        };
        match delivered {
            Ok(segments) => Ok(Sent {
                verification_id: issued.verification_id,
                expires_in: self.core.config.limits.code_ttl,
                segments,
                channel: choice.channel,
            }),
            Err(failed) => {
                self.withdraw(&issued).await;
                Err(failed)
            }
        }
    }

    /// [`send_with`](Self::send_with) an SMS in the destination's language.
    pub async fn send(&self, phone: &PhoneNumber, caller: &Caller) -> Result<Sent, OtpError> {
        self.send_with(phone, caller, &MessageChoice::default())
            .await
    }

    /// For a call, the public URL its answer is fetched from (none for an SMS); refused
    /// where calls are off.
    fn call_base(&self, channel: Channel) -> Result<Option<&str>, OtpError> {
        match (channel, &self.voice, &self.core.config.public_base_url) {
            (Channel::Sms, _, _) => Ok(None),
            (Channel::Voice, Some(_), Some(base)) => Ok(Some(base)),
            (Channel::Voice, _, _) => Err(OtpError::ChannelNotAllowed),
        }
    }

    /// Refuses destinations outside the allowed regions and line types (for a call, those
    /// calls may go to).
    fn screen(&self, phone: &PhoneNumber, channel: Channel) -> Result<(), OtpError> {
        let defences = &self.core.config.defences;
        if let Some(allowed) = &defences.allowed_countries
            && !phone.country().is_some_and(|c| allowed.contains(&c))
        {
            tracing::info!(country = ?phone.country(), "destination country not allowed");
            return Err(OtpError::CountryNotAllowed);
        }
        let allowed = match (channel, &self.voice) {
            (Channel::Voice, Some(voice)) => &voice.allowed_number_types,
            _ => &defences.allowed_number_types,
        };
        if !allowed.contains(&phone.number_type()) {
            tracing::info!(
                number_type = phone.number_type().as_str(),
                "number type not allowed"
            );
            return Err(OtpError::NumberTypeNotAllowed);
        }
        Ok(())
    }

    /// The budgets a send takes a unit from: for a call, the deployment's and the number's
    /// calls per hour; the deployment's sends per minute (sharded), the caller's IP (and
    /// IPv6 /48) per hour and the number's range per hour. Only those switched on.
    fn send_budgets(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        channel: Channel,
        now: u64,
    ) -> Vec<Budget> {
        let d = &self.core.config.defences;
        let mut budgets = Vec::new();
        // Calls cost many times an SMS: their own budgets come first.
        if let (Channel::Voice, Some(voice)) = (channel, &self.voice) {
            if let Limit::AtMost(limit) = voice.max_calls_per_hour {
                budgets.push(Budget::sharded(CounterKind::Calls, limit, HOUR, now));
            }
            let limit = voice.max_calls_per_number_per_hour;
            budgets.extend(self.budget(CounterKind::NumberCalls, phone.e164(), limit, now));
        }
        if let Limit::AtMost(limit) = d.max_sends_per_minute {
            budgets.push(Budget::sharded(CounterKind::Global, limit, MINUTE, now));
        }
        let per_ip = (
            d.max_sends_per_ip_per_hour,
            d.max_sends_per_ipv6_48_per_hour,
        );
        let kinds = (CounterKind::IpSend, CounterKind::IpSend48);
        budgets.extend(self.core.ip_budgets(kinds, caller, per_ip, now));
        let prefix = phone.prefix(d.prefix_digits);
        let limit = d.max_sends_per_prefix_per_hour;
        budgets.extend(self.budget(CounterKind::Prefix, &prefix, limit, now));
        budgets
    }

    /// The hourly budget of `kind` for `subject` (hashed), when `limit` is on.
    fn budget(&self, kind: CounterKind, subject: &str, limit: Limit, now: u64) -> Option<Budget> {
        (limit != Limit::Off).then(|| {
            let subject = self.core.keys.counter_subject(kind, subject);
            Budget::one(kind, &subject, limit, HOUR, now)
        })
    }

    /// Takes a unit from every send budget, or none.
    async fn reserve_send(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        channel: Channel,
        now: u64,
    ) -> Result<Reservation<'_, S>, OtpError> {
        let budgets = self.send_budgets(phone, caller, channel, now);
        let (full, retry_after) = match self.core.reserve(&budgets, now).await? {
            Ok(reserved) => return Ok(reserved),
            Err(full) => full,
        };
        let limit = full.kind().limit();
        // The range (never the number) tells an operator where pumping aims.
        let (prefix, range) = (full.kind() == CounterKind::Prefix)
            .then(|| self.range_for_logs(phone))
            .unzip();
        tracing::warn!(
            limit = limit.log_name(),
            prefix,
            range,
            "send limit reached"
        );
        Err(OtpError::RateLimited { retry_after, limit })
    }

    /// The number's range as far as the masked number shows it, and a short keyed hash that
    /// tells ranges apart without revealing them.
    fn range_for_logs(&self, phone: &PhoneNumber) -> (String, String) {
        let digits = self.core.config.defences.prefix_digits;
        let subject = self
            .core
            .keys
            .counter_subject(CounterKind::Prefix, &phone.prefix(digits));
        (phone.prefix_for_logs(digits), subject[..8].to_owned())
    }

    /// Stores the hash of `code` for the number as a new verification, in place of any
    /// pending code, with a fresh message reference when Plivo is to report the SMS's
    /// delivery (`receipts`, and a public URL). The reserved units are kept if it is stored,
    /// given back if not.
    async fn store_code(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
        channel: Channel,
        reserved: Reservation<'_, S>,
        now: u64,
    ) -> Result<Issued, OtpError> {
        let core = &self.core;
        let key = core.keys.phone_key(phone);
        let hash = core.keys.code_hash(&key, code);
        let (verification_id, digest) = core.keys.verifications().issue(phone, channel, now);
        let receipts = core.config.delivery_receipts && channel == Channel::Sms;
        let status = core
            .config
            .public_base_url
            .as_deref()
            .filter(|_| receipts)
            .map(|base| {
                let url = StatusUrl {
                    key: key.clone(),
                    message_ref: MessageRef::generate(),
                    region: phone.country(),
                };
                (url.to_url(base), url.message_ref)
            });
        let new_code = NewCode {
            hash: &hash,
            verification: &digest,
            message_ref: status.as_ref().map(|(_, r)| r),
        };
        let stored = match core.store.store_code(&key, new_code, now).await {
            Ok(SendDecision::Stored { previous }) => Ok(previous),
            Ok(SendDecision::RateLimited { retry_after }) => Err(OtpError::RateLimited {
                retry_after,
                limit: Tripped::PerNumber,
            }),
            Err(e) => Err(e.into()),
        };
        let previous = reserved.settle(stored).await?;
        Ok(Issued {
            key,
            hash,
            verification_id,
            status_url: status.map(|(url, _)| url),
            previous,
        })
    }

    /// Sends the code by SMS, in `language`; the segments it is billed as.
    async fn text(
        &self,
        phone: &PhoneNumber,
        issued: &Issued,
        code: OtpCode,
        language: &str,
        app_hash: Option<&str>,
    ) -> Result<u32, OtpError> {
        let ttl = self.core.config.limits.code_ttl;
        let text = self.messages.render(language, &code, ttl, app_hash);
        drop(code);
        let (encoding, segments) = segments(text.expose_secret());
        tracing::info!(language, ?encoding, segments, "sending the code");
        let status_url = issued.status_url.as_deref();
        let sent = self.sms.send(phone, &text, status_url).await;
        sent.map(|()| segments).map_err(OtpError::SmsFailed)
    }

    /// Places a call that reads the code aloud: the answer URL under `base` carries it
    /// sealed, bound to the number's item, a fresh call id and an expiry. No segments.
    async fn call(
        &self,
        phone: &PhoneNumber,
        issued: &Issued,
        code: OtpCode,
        language: &str,
        base: &str,
        now: u64,
    ) -> Result<u32, OtpError> {
        let language = Spoken::language_tag(language);
        let binding = AnswerBinding::new(issued.key.clone(), now);
        let ticket = self.core.keys.tickets().seal(&binding, &code, language);
        drop(code);
        let url = AnswerUrl { binding, ticket }.to_url(base);
        tracing::info!(language, "calling with the code");
        let called = self.sms.call(phone, &url).await;
        called.map(|()| 0).map_err(OtpError::CallFailed)
    }

    /// Takes back a code whose SMS or call failed, restoring the one it replaced. A failure
    /// here leaves a code nobody received, which expires on its own: logged, not returned.
    async fn withdraw(&self, issued: &Issued) {
        let now = self.core.clock.now();
        let previous = issued.previous.as_ref();
        let withdrawn = self
            .core
            .store
            .withdraw_code(&issued.key, &issued.hash, previous, now);
        if let Err(e) = withdrawn.await {
            tracing::error!(
                error.message = %chain(&e),
                "could not withdraw a code whose sms or call failed; it expires on its own"
            );
        }
    }

    /// Where its requests are recorded.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }
}
