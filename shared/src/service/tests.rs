//! The use cases against fakes of the seams: which store calls the refund, withdraw and
//! error paths make. The conditional writes themselves are tested against dynalite
//! (`tests/`).

use std::sync::{Arc, Mutex};

use secrecy::SecretString;

use super::{SendOtp, Sent, VerifyOtp};
use crate::clock::SystemClock;
use crate::config::{FromEnv, OtpConfig};
use crate::domain::{
    Caller, ClientIp, CodeHash, CodeLength, CounterKind, HOUR, Limit, OtpCode, PhoneKey,
    PhoneNumber, VerificationDigest,
};
use crate::error::OtpError;
use crate::sms::{SmsError, SmsSender, VoiceCaller};
use crate::store::{
    self, Budget, BudgetStore, Counter, Failure, Guessed, NewCode, OtpStore, PendingCode,
    SendDecision, StoreError, Taken, VerificationRecord, VerificationStore, VerifyDecision,
};

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
        _: NewCode<'_>,
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
        _: Guessed<'_>,
        _: &CodeHash,
        _: u64,
    ) -> store::Result<VerifyDecision> {
        self.record("verify");
        (self.guess)()
    }
}

impl VerificationStore for FakeStore {
    async fn verification(
        &self,
        _: &PhoneKey,
        _: &VerificationDigest,
        _: u64,
        _: u64,
    ) -> store::Result<Option<VerificationRecord>> {
        unreachable!("not asked of this fake")
    }

    async fn cancel(
        &self,
        _: &PhoneKey,
        _: &VerificationDigest,
        _: u64,
        _: u64,
    ) -> store::Result<Option<VerificationRecord>> {
        unreachable!("not asked of this fake")
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
