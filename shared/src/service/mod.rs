//! The use cases, send a code and verify a code, written against the [`OtpStore`] and
//! [`SmsSender`] seams, and Plivo's callbacks ([`callbacks`]). No HTTP and no AWS here: the
//! mains build the concrete store and sender and hand them in.

mod callbacks;

pub use callbacks::{AnswerFetch, AnswerStep, Callbacks, Recorded, StatusReport};

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::OtpConfig;
use secrecy::ExposeSecret;

use crate::config::VoiceConfig;
use crate::domain::{
    ANSWER_CALLBACK_PATH, AnswerBinding, Caller, Channel, CodeLength, CounterKind, HOUR, Keyring,
    Limit, Locale, MINUTE, MessageRef, Messages, OtpCode, PhoneKey, PhoneNumber, Region,
    STATUS_CALLBACK_PATH, Spoken, segments,
};
use crate::error::{OtpError, chain};
use crate::metrics::Metrics;
use crate::sms::{SmsSender, VoiceCaller};
use crate::store::{Budget, Counter, OtpStore, SendDecision, VerifyDecision};
use crate::token::TokenIssuer;

/// The parts both use cases share: configuration, hashing, the store and the clock.
struct Core<S> {
    config: OtpConfig,
    keys: Keyring,
    store: S,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
}

impl<S: OtpStore> Core<S> {
    fn new(config: OtpConfig, store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            keys: Keyring::new(&config.secret),
            config,
            store,
            clock,
            metrics: Metrics::off(),
        }
    }

    /// The per-client budgets for the caller: its IPv4 address or IPv6 /64 under `per_ip`,
    /// and for IPv6 also its /48 under `per_48`. Only those switched on, and none when the
    /// caller's IP is unknown.
    fn ip_budgets(
        &self,
        kinds: (CounterKind, CounterKind),
        caller: &Caller,
        (per_ip, per_48): (Limit, Limit),
        now: u64,
    ) -> Vec<Budget> {
        let Some(ip) = caller.ip else {
            return Vec::new();
        };
        let block = ip.ipv6_48().map(|block| (kinds.1, block, per_48));
        std::iter::once((kinds.0, ip.subject(), per_ip))
            .chain(block)
            .filter(|(_, _, limit)| *limit != Limit::Off)
            .map(|(kind, subject, limit)| {
                let subject = self.keys.counter_subject(kind, &subject);
                Budget::one(kind, &subject, limit, HOUR, now)
            })
            .collect()
    }

    /// Takes a unit from every budget, in order, or from none: when one is full (or a
    /// request fails) the units already taken are given back. The units taken, or the full
    /// budget and the seconds until it has room.
    async fn reserve<'b>(
        &self,
        budgets: &'b [Budget],
        now: u64,
    ) -> Result<Result<Reservation<'_, S>, (&'b Budget, u64)>, OtpError> {
        let mut reserved = Reservation {
            store: &self.store,
            units: Vec::new(),
        };
        for budget in budgets {
            match self.store.take(budget, now).await {
                Ok(Ok(unit)) => reserved.units.push(unit),
                Ok(Err(retry_after)) => {
                    reserved.give_back().await;
                    return Ok(Err((budget, retry_after)));
                }
                Err(e) => {
                    reserved.give_back().await;
                    return Err(e.into());
                }
            }
        }
        Ok(Ok(reserved))
    }
}

/// Units taken from budgets for a request that may still stop short. Whoever holds it says
/// what becomes of them: [`keep`](Self::keep), [`give_back`](Self::give_back), or
/// [`settle`](Self::settle) on the request's outcome.
#[must_use = "units are kept unless given back"]
struct Reservation<'a, S: OtpStore> {
    store: &'a S,
    units: Vec<Counter>,
}

impl<S: OtpStore> Reservation<'_, S> {
    /// Keeps the units when `outcome` succeeded and gives them back when it failed.
    async fn settle<T>(self, outcome: Result<T, OtpError>) -> Result<T, OtpError> {
        match outcome {
            Ok(_) => self.keep(),
            Err(_) => self.give_back().await,
        }
        outcome
    }

    /// The request went ahead: the units stay taken.
    fn keep(self) {}

    /// Returns the units. A failure here only makes a limit stricter for the rest of its
    /// bucket, so it is logged, not returned.
    async fn give_back(self) {
        for unit in &self.units {
            if let Err(e) = self.store.give_back(unit).await {
                tracing::warn!(
                    error.message = %chain(&e),
                    "could not return a counter unit"
                );
            }
        }
    }
}

/// A code is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
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

/// Everything `send-otp` needs, built once per execution environment.
pub struct SendOtp<S, M> {
    core: Core<S>,
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

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.core.metrics
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

    /// The budgets a send takes a unit from: the deployment's per minute (sharded), the
    /// caller's IP (and IPv6 /48) per hour and the number's range per hour. Only those
    /// switched on.
    fn send_budgets(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        channel: Channel,
        now: u64,
    ) -> Vec<Budget> {
        let d = &self.core.config.defences;
        let mut budgets = Vec::new();
        // Calls cost many times an SMS: their own budgets, the deployment's and the number's,
        // come first.
        if let (Channel::Voice, Some(voice)) = (channel, &self.voice) {
            if let Limit::AtMost(limit) = voice.max_calls_per_hour {
                budgets.push(Budget::sharded(CounterKind::Calls, limit, HOUR, now));
            }
            if voice.max_calls_per_number_per_hour != Limit::Off {
                let kind = CounterKind::NumberCalls;
                let subject = self.core.keys.counter_subject(kind, phone.e164());
                let limit = voice.max_calls_per_number_per_hour;
                budgets.push(Budget::one(kind, &subject, limit, HOUR, now));
            }
        }
        if let Limit::AtMost(limit) = d.max_sends_per_minute {
            budgets.push(Budget::sharded(CounterKind::Global, limit, MINUTE, now));
        }
        budgets.extend(self.core.ip_budgets(
            (CounterKind::IpSend, CounterKind::IpSend48),
            caller,
            (
                d.max_sends_per_ip_per_hour,
                d.max_sends_per_ipv6_48_per_hour,
            ),
            now,
        ));
        if d.max_sends_per_prefix_per_hour != Limit::Off {
            let prefix = phone.prefix(d.prefix_digits);
            let subject = self.core.keys.counter_subject(CounterKind::Prefix, &prefix);
            budgets.push(Budget::one(
                CounterKind::Prefix,
                &subject,
                d.max_sends_per_prefix_per_hour,
                HOUR,
                now,
            ));
        }
        budgets
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

    /// Takes a unit from every send budget, or none.
    async fn reserve_send(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        channel: Channel,
        now: u64,
    ) -> Result<Reservation<'_, S>, OtpError> {
        let budgets = self.send_budgets(phone, caller, channel, now);
        match self.core.reserve(&budgets, now).await? {
            Ok(reserved) => Ok(reserved),
            Err((full, retry_after)) => {
                // The range (never the number) tells an operator where pumping aims.
                let (prefix, range) = (full.kind() == CounterKind::Prefix)
                    .then(|| self.range_for_logs(phone))
                    .unzip();
                tracing::warn!(
                    limit = full.kind().limit_name(),
                    prefix,
                    range,
                    "send limit reached"
                );
                Err(OtpError::RateLimited {
                    retry_after,
                    limit: full.kind().metric_name(),
                })
            }
        }
    }

    /// Stores the hash of a fresh code, then sends the code. The write comes first so every
    /// delivered code can be verified; if the SMS finally fails, the stored code is taken
    /// back and the code it replaced, if still valid, is valid again. A failed send still
    /// counts against the cooldown and the caps: Plivo may have delivered (and billed) it.
    pub async fn send(&self, phone: &PhoneNumber, caller: &Caller) -> Result<Sent, OtpError> {
        self.send_with(phone, caller, &MessageChoice::default())
            .await
    }

    /// [`send`](Self::send), with the caller's choices for the message. A choice the
    /// deployment cannot honour (an app hash it does not have, a call when it places none) is
    /// refused before anything is counted, stored or sent.
    ///
    /// By voice, the same limits apply as to an SMS, and the call budgets besides; the code
    /// is never stored in plain text: the answer URL carries it sealed (see
    /// [`AnswerBinding`]).
    pub async fn send_with(
        &self,
        phone: &PhoneNumber,
        caller: &Caller,
        choice: &MessageChoice,
    ) -> Result<Sent, OtpError> {
        let messages = &self.messages;
        let app_hash = messages
            .app_hash(choice.app_hash.as_deref())
            .map_err(|problem| OtpError::InvalidRequest(problem.to_owned()))?;
        let voice = match choice.channel {
            Channel::Sms => None,
            Channel::Voice => Some(self.voice_base()?),
        };
        self.screen(phone, choice.channel)?;
        let core = &self.core;
        let now = core.clock.now();
        let reserved = self
            .reserve_send(phone, caller, choice.channel, now)
            .await?;
        let key = core.keys.phone_key(phone);
        let code = OtpCode::generate(core.config.code_length);
        let hash = core.keys.code_hash(&key, &code);
        // With a public URL, Plivo reports an SMS's delivery to it, naming the code's message
        // by a reference stored with the code.
        let receipts = core
            .config
            .public_base_url
            .as_deref()
            .filter(|_| voice.is_none() && core.config.delivery_receipts)
            .map(|base| {
                let message_ref = MessageRef::generate();
                let url = status_url(base, &key, &message_ref, phone.country());
                (message_ref, url)
            });
        let message_ref = receipts.as_ref().map(|(r, _)| r);
        let stored = match core.store.store_code(&key, &hash, message_ref, now).await {
            Ok(SendDecision::Stored { previous }) => Ok(previous),
            Ok(SendDecision::RateLimited { retry_after }) => Err(OtpError::RateLimited {
                retry_after,
                limit: "PerNumber",
            }),
            Err(e) => Err(e.into()),
        };
        let previous = reserved.settle(stored).await?;
        let limits = &core.config.limits;
        let language = messages.language(choice.locale.as_ref(), phone.country());
        let (sent, segments) = if let Some(base) = voice {
            let language = Spoken::language_tag(language);
            let binding = AnswerBinding::new(key.clone(), now);
            let ticket = core.keys.tickets().seal(&binding, &code, language);
            drop(code);
            let url = answer_url(base, &binding, &ticket);
            tracing::info!(language, "calling with the code");
            let called = self.sms.call(phone, &url).await;
            (called.map_err(OtpError::CallFailed), 0)
        } else {
            let text = messages.render(language, &code, limits.code_ttl, app_hash);
            drop(code);
            let (encoding, segments) = segments(text.expose_secret());
            tracing::info!(language, ?encoding, segments, "sending the code");
            let status_url = receipts.as_ref().map(|(_, url)| url.as_str());
            let sent = self.sms.send(phone, &text, status_url).await;
            (sent.map_err(OtpError::SmsFailed), segments)
        };
        if let Err(failed) = sent {
            let now = core.clock.now();
            let withdrawn = core
                .store
                .withdraw_code(&key, &hash, previous.as_ref(), now);
            if let Err(e) = withdrawn.await {
                tracing::error!(
                    error.message = %chain(&e),
                    "could not withdraw a code whose sms or call failed; it expires on its own"
                );
            }
            return Err(failed);
        }
        Ok(Sent {
            expires_in: limits.code_ttl,
            segments,
            channel: choice.channel,
        })
    }

    /// The public URL a call's answer is fetched from, when calls are on.
    fn voice_base(&self) -> Result<&str, OtpError> {
        match (&self.voice, &self.core.config.public_base_url) {
            (Some(_), Some(base)) => Ok(base),
            _ => Err(OtpError::ChannelNotAllowed),
        }
    }
}

/// Where Plivo fetches a call's answer: the answer route under the public base URL, with the
/// sealed ticket and what it is bound to.
fn answer_url(base: &str, binding: &AnswerBinding, ticket: &str) -> String {
    format!(
        "{base}{ANSWER_CALLBACK_PATH}?k={}&c={}&e={}&t={ticket}",
        binding.key.as_str(),
        binding.call_id,
        binding.expires_at
    )
}

/// Where Plivo reports a message's delivery: the status route under the public base URL,
/// naming the number's item, the code's message and the destination's region (for the
/// delivery metrics; no number).
fn status_url(
    base: &str,
    key: &PhoneKey,
    message_ref: &MessageRef,
    region: Option<Region>,
) -> String {
    let mut url = format!(
        "{base}{STATUS_CALLBACK_PATH}?k={}&r={}",
        key.as_str(),
        message_ref.as_str()
    );
    if let Some(region) = region {
        url.push_str("&rg=");
        url.push_str(&region.to_string());
    }
    url
}

/// Everything `verify-otp` needs, built once per execution environment.
pub struct VerifyOtp<S> {
    core: Core<S>,
    tokens: Option<TokenIssuer>,
}

impl<S: OtpStore> VerifyOtp<S> {
    pub fn new(config: OtpConfig, store: S, clock: Arc<dyn Clock>) -> Self {
        Self {
            core: Core::new(config, store, clock),
            tokens: None,
        }
    }

    /// Also answers a right code with a signed token, and publishes the keys that check it.
    pub fn with_tokens(mut self, tokens: TokenIssuer) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Records a metric per request (see [`Metrics`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.core.metrics = metrics;
        self
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.core.metrics
    }

    pub(crate) fn tokens(&self) -> Option<&TokenIssuer> {
        self.tokens.as_ref()
    }

    /// How many digits a code has, for parsing one.
    pub(crate) fn code_length(&self) -> CodeLength {
        self.core.config.code_length
    }

    /// Accepts the pending code for `phone` once. Every failure to match is the same
    /// [`OtpError::InvalidOtp`], except when attempts are used up.
    ///
    /// With a per-IP failure budget, each guess first reserves a unit of the caller's budget
    /// (so concurrent guesses can never exceed it) and a right guess returns it.
    pub async fn verify(
        &self,
        phone: &PhoneNumber,
        code: &OtpCode,
        caller: &Caller,
    ) -> Result<(), OtpError> {
        let core = &self.core;
        let key = core.keys.phone_key(phone);
        let hash = core.keys.code_hash(&key, code);
        let now = core.clock.now();
        let d = &core.config.defences;
        let budgets = core.ip_budgets(
            (CounterKind::IpFail, CounterKind::IpFail48),
            caller,
            (
                d.max_failures_per_ip_per_hour,
                d.max_failures_per_ipv6_48_per_hour,
            ),
            now,
        );
        let reserved = match core.reserve(&budgets, now).await? {
            Ok(reserved) => reserved,
            Err((full, retry_after)) => {
                tracing::warn!(limit = full.kind().limit_name(), "verify limit reached");
                return Err(OtpError::TooManyAttempts {
                    retry_after,
                    limit: full.kind().metric_name(),
                });
            }
        };
        // A failed guess spends the caller's failure budget; a right one, or one never
        // judged, does not.
        match core.store.verify(&key, &hash, now).await {
            Ok(VerifyDecision::Rejected) => {
                reserved.keep();
                Err(OtpError::InvalidOtp)
            }
            Ok(VerifyDecision::Exhausted { retry_after }) => {
                reserved.keep();
                Err(OtpError::TooManyAttempts {
                    retry_after,
                    limit: "Attempts",
                })
            }
            Ok(VerifyDecision::Verified) => {
                reserved.give_back().await;
                Ok(())
            }
            Err(e) => {
                reserved.give_back().await;
                Err(e.into())
            }
        }
    }
}

/// The use cases against fakes of the seams: which store calls the refund, withdraw and
/// error paths make. The conditional writes themselves are tested against dynalite
/// (`tests/`).
#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use secrecy::SecretString;

    use super::*;
    use crate::clock::SystemClock;
    use crate::config::FromEnv;
    use crate::domain::{ClientIp, CodeHash};
    use crate::sms::SmsError;
    use crate::store::{self, BudgetStore, Failure, PendingCode, StoreError, Taken};

    /// A store that takes every unit, answers sends and guesses as told, and records calls.
    struct FakeStore {
        send: fn() -> store::Result<SendDecision>,
        guess: fn() -> store::Result<VerifyDecision>,
        calls: Mutex<Vec<&'static str>>,
    }

    impl FakeStore {
        fn new(
            send: fn() -> store::Result<SendDecision>,
            guess: fn() -> store::Result<VerifyDecision>,
        ) -> Self {
            let calls = Mutex::new(Vec::new());
            Self { send, guess, calls }
        }

        fn record(&self, call: &'static str) {
            self.calls.lock().unwrap().push(call);
        }

        fn calls(&self) -> Vec<&'static str> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl BudgetStore for FakeStore {
        async fn take(&self, _: &Budget, _: u64) -> store::Result<Taken> {
            self.record("take");
            let any = Budget::one(CounterKind::IpSend, "x", Limit::AtMost(1), HOUR, 0);
            Ok(Ok(any.first_counter()))
        }

        async fn give_back(&self, _: &Counter) -> store::Result<()> {
            self.record("give_back");
            Ok(())
        }
    }

    impl OtpStore for FakeStore {
        async fn store_code(
            &self,
            _: &PhoneKey,
            _: &CodeHash,
            _: Option<&MessageRef>,
            _: u64,
        ) -> store::Result<SendDecision> {
            self.record("store_code");
            (self.send)()
        }

        async fn withdraw_code(
            &self,
            _: &PhoneKey,
            _: &CodeHash,
            _: Option<&PendingCode>,
            _: u64,
        ) -> store::Result<()> {
            self.record("withdraw_code");
            Ok(())
        }

        async fn verify(
            &self,
            _: &PhoneKey,
            _: &CodeHash,
            _: u64,
        ) -> store::Result<VerifyDecision> {
            self.record("verify");
            (self.guess)()
        }
    }

    struct FakeSms(Result<(), u16>);

    impl VoiceCaller for FakeSms {
        async fn call(&self, _: &PhoneNumber, _: &str) -> Result<(), SmsError> {
            self.0.map_err(|status| SmsError::Refused {
                status,
                api_id: None,
                error: "refused".into(),
            })
        }
    }

    impl SmsSender for FakeSms {
        async fn send(
            &self,
            _: &PhoneNumber,
            _: &SecretString,
            _: Option<&str>,
        ) -> Result<(), SmsError> {
            self.0.map_err(|status| SmsError::Refused {
                status,
                api_id: None,
                error: "refused".into(),
            })
        }
    }

    fn config() -> OtpConfig {
        OtpConfig::from_lookup(|k| match k {
            "OTP_TABLE_NAME" => Some("t".into()),
            "OTP_SECRET" => Some("0123456789abcdef0123456789abcdef".into()),
            "OTP_ALLOWED_COUNTRIES" => Some("*".into()),
            _ => None,
        })
        .unwrap()
    }

    /// An IPv6 caller: the send takes the global, /64 and /48 units (three).
    fn caller() -> Caller {
        Caller {
            ip: ClientIp::parse("2001:db8::1"),
        }
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+14155552671").unwrap()
    }

    fn stored() -> store::Result<SendDecision> {
        Ok(SendDecision::Stored { previous: None })
    }

    fn rejected() -> store::Result<VerifyDecision> {
        Ok(VerifyDecision::Rejected)
    }

    fn unavailable<T>() -> store::Result<T> {
        Err(StoreError::new(Failure::Unavailable, "timeout".into()))
    }

    async fn send(
        store: FakeStore,
        sms: Result<(), u16>,
    ) -> (Result<Sent, OtpError>, Vec<&'static str>) {
        let app = SendOtp::new(config(), store, FakeSms(sms), Arc::new(SystemClock));
        let result = app.send(&phone(), &caller()).await;
        (result, app.core.store.calls())
    }

    #[tokio::test]
    async fn a_send_refused_by_the_number_gives_back_every_unit_it_took() {
        let refused = || Ok(SendDecision::RateLimited { retry_after: 30 });
        let (result, calls) = send(FakeStore::new(refused, rejected), Ok(())).await;
        assert!(matches!(
            result,
            Err(OtpError::RateLimited {
                retry_after: 30,
                ..
            })
        ));
        let taken = calls.iter().filter(|c| **c == "take").count();
        assert_eq!(taken, 3, "{calls:?}");
        assert_eq!(calls.iter().filter(|c| **c == "give_back").count(), taken);
        let (result, calls) = send(FakeStore::new(unavailable, rejected), Ok(())).await;
        assert!(matches!(result, Err(OtpError::Unavailable(_))));
        assert_eq!(calls.iter().filter(|c| **c == "give_back").count(), 3);
    }

    #[tokio::test]
    async fn a_failed_sms_keeps_the_units_and_withdraws_the_code() {
        let (result, calls) = send(FakeStore::new(stored, rejected), Err(400)).await;
        assert!(matches!(result, Err(OtpError::SmsFailed(_))));
        assert_eq!(
            calls,
            ["take", "take", "take", "store_code", "withdraw_code"]
        );
        let (result, calls) = send(FakeStore::new(stored, rejected), Ok(())).await;
        assert_eq!(result.unwrap().expires_in, 300);
        assert_eq!(calls, ["take", "take", "take", "store_code"]);
    }

    #[tokio::test]
    async fn only_a_failed_guess_spends_the_failure_budget() {
        let code = OtpCode::parse("123456", CodeLength::default()).unwrap();
        type Guess = fn() -> store::Result<VerifyDecision>;
        let cases: [(Guess, usize); 4] = [
            (rejected, 0),
            (|| Ok(VerifyDecision::Exhausted { retry_after: 5 }), 0),
            (|| Ok(VerifyDecision::Verified), 2),
            (unavailable, 2),
        ];
        for (guess, given_back) in cases {
            let app = VerifyOtp::new(
                config(),
                FakeStore::new(stored, guess),
                Arc::new(SystemClock),
            );
            let _ = app.verify(&phone(), &code, &caller()).await;
            let calls = app.core.store.calls();
            assert_eq!(
                calls.iter().filter(|c| **c == "take").count(),
                2,
                "{calls:?}"
            );
            let returned = calls.iter().filter(|c| **c == "give_back").count();
            assert_eq!(returned, given_back, "{calls:?}");
        }
    }
}
