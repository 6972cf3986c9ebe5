//! The brute-force and abuse promises under attack: each test reproduces one way an attacker
//! (or an unlucky deployment) could break them, against a real DynamoDB-compatible server
//! with real concurrency.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use otp_devtools::dynamodb_proxy::Behaviour;
use otp_shared::config::{FromEnv, OtpConfig, PlivoConfig};
use otp_shared::domain::PhoneNumber;
use otp_shared::error::OtpError;
use otp_shared::service::Subject;
use otp_shared::sms::{PlivoSmsSender, SmsError, SmsSender};
use rand::RngExt;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The lock after ten wrong guesses in a row, with no hourly budget in its way.
const LOCK_AT_10: &str = "OTP_MAX_CONSECUTIVE_FAILURES=10 OTP_MAX_FAILURES_PER_HOUR=0";

/// Finding 1: guesses checked before they were counted. 100 warm verifier instances (each
/// with its own DynamoDB client) are released together with 99 wrong guesses and the right
/// code at a random position, default limits (5 attempts). Counting first, the right code
/// is only compared when its count lands among the first five: probability 5/100 per trial.
/// Checking first, it was accepted in about 15 of 20 trials.
///
/// Statistics: 30 trials, fail at 7 or more acceptances. A correct implementation (p <= 0.05)
/// fails with probability P(Bin(30, 0.05) >= 7) = 0.06%; a check-before-count one accepted
/// with p = 0.75 passes with probability P(Bin(30, 0.75) <= 6) = 4e-10 (and even at p = 0.5,
/// 0.07%).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_compares_at_most_max_attempts_with_the_code() {
    burst_of_guesses(false).await;
}

/// The same burst, every guess naming the verification by its id; the same statistics.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_guesses_by_id_compares_at_most_max_attempts_with_the_code() {
    burst_of_guesses(true).await;
}

async fn burst_of_guesses(by_id: bool) {
    const INSTANCES: usize = 100;
    const TRIALS: u32 = 30;
    let stack = Stack::new("").await;
    let verifiers: Vec<_> = (0..INSTANCES)
        .map(|_| Arc::new(stack.patient_verifier()))
        .collect();
    let sender = stack.sender();
    let mut accepted = 0;
    for trial in 0..TRIALS {
        let number = us(trial);
        let sent = sender.send(&number, &ANYONE).await.unwrap();
        let right = stack.plivo.last_code().await;
        let subject = if by_id {
            Subject::Verification {
                id: sent.verification_id,
                phone: None,
            }
        } else {
            Subject::Number(number.clone())
        };
        let position = rand::rng().random_range(0..INSTANCES);
        let barrier = Arc::new(tokio::sync::Barrier::new(INSTANCES));
        let mut tasks = Vec::new();
        for (i, verifier) in verifiers.iter().enumerate() {
            let guess = if i == position {
                right.clone()
            } else {
                // 99 distinct wrong codes.
                format!(
                    "{:06}",
                    (right.parse::<u32>().unwrap() + 1 + i as u32) % 1_000_000
                )
            };
            let (verifier, barrier, subject) = (verifier.clone(), barrier.clone(), subject.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                let guess = code(&guess);
                verifier
                    .verify_by(&subject, &guess, &ANYONE)
                    .await
                    .map(drop)
            }));
        }
        let (mut compared, mut right) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => right += 1,
                Err(OtpError::InvalidOtp) => compared += 1,
                Err(OtpError::TooManyAttempts { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        accepted += right;
        // Five counted guesses; a right one is taken back off the count once it is used, which
        // lets one more wrong guess be counted (against no code, as for any number). By id,
        // every guess after the right one reads 401 uncounted (its verification is over), so
        // the count shows only in trials the right code lost.
        assert!(
            compared + right <= 5 + right * 2 || (by_id && right == 1),
            "trial {trial}: {compared} wrong guesses answered as counted"
        );
    }
    assert!(
        accepted < 7,
        "the right code got through a burst in {accepted} of {TRIALS} trials"
    );
}

/// Finding 2: failures reset every hour, so an attacker who spends each hour's budget could
/// guess forever. At 100 consecutive failures the number locks: sends and verifies get 429
/// until the lock expires, a day after the last failure by default. Guesses by number and by
/// verification id count alike.
#[tokio::test]
async fn consecutive_failures_lock_the_number_across_hours_and_resends() {
    consecutive_failures_lock(false).await;
}

#[tokio::test]
async fn consecutive_failures_by_verification_id_lock_the_number_too() {
    consecutive_failures_lock(true).await;
}

async fn consecutive_failures_lock(by_id: bool) {
    let stack = Stack::new("OTP_MAX_CONSECUTIVE_FAILURES=100").await;
    let number = us(0);
    // Patient instances: an SDK retry after a timeout on a busy machine could count a guess
    // twice (never zero times), and this test counts exactly.
    let sender = stack.patient_sender();
    let verifier = stack.patient_verifier();
    let mut counted = 0;
    let mut last_code = String::new();
    let mut last_id;
    'hours: for hour in 0..12 {
        // Each hour: codes until the send cap (or, by number, the failure budget) stops them,
        // wrong guesses on each until refused.
        loop {
            match sender.send(&number, &ANYONE).await {
                Ok(sent) => {
                    last_code = stack.plivo.last_code().await;
                    last_id = Some(sent.verification_id);
                }
                Err(OtpError::RateLimited { retry_after, .. }) if retry_after > 3600 => {
                    assert!(counted <= 100, "{counted} failures before the lock");
                    break 'hours;
                }
                Err(OtpError::RateLimited { .. }) => break,
                other => panic!("hour {hour}: unexpected {other:?}"),
            }
            let guess = |otp: String| {
                let subject = match (by_id, &last_id) {
                    (true, Some(id)) => Subject::Verification {
                        id: id.clone(),
                        phone: None,
                    },
                    _ => Subject::Number(number.clone()),
                };
                let verifier = &verifier;
                async move { verifier.verify_by(&subject, &code(&otp), &ANYONE).await }
            };
            let mut on_this_code = 0;
            loop {
                match guess(wrong(&last_code)).await {
                    Err(OtpError::InvalidOtp) => on_this_code += 1,
                    // Refused at once: the hour's failure budget (by number) was spent.
                    Err(OtpError::TooManyAttempts { .. }) if on_this_code == 0 => break,
                    // The guess that spent the code's last attempt.
                    Err(OtpError::TooManyAttempts { .. }) => {
                        on_this_code += 1;
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            counted += on_this_code;
            stack.clock.advance(30);
        }
        stack.clock.advance(3600);
    }
    assert_eq!(
        counted, 100,
        "wrong guesses counted before the number locked"
    );
    // Locked: the right code of the last message does not verify, a new code is not sent.
    let r = verifier.guess(&number, &last_code).await;
    match r {
        Err(OtpError::TooManyAttempts { retry_after, .. }) => assert!(retry_after > 3600),
        other => panic!("a locked number verified: {other:?}"),
    }
    let sent = stack.plivo.sent().await.len();
    // The lock expires a day after the last failure.
    stack.clock.advance(86_400);
    sender.send(&number, &ANYONE).await.unwrap();
    assert_eq!(stack.plivo.sent().await.len(), sent + 1);
    let fresh = stack.plivo.last_code().await;
    verifier.guess(&number, &fresh).await.unwrap();
}

#[tokio::test]
async fn a_right_code_resets_the_consecutive_failures() {
    let stack = Stack::new(&format!("{LOCK_AT_10} OTP_MAX_ATTEMPTS=100")).await;
    let number = us(1);
    let (sender, verifier) = (stack.sender(), stack.verifier());
    for _ in 0..3 {
        sender.send(&number, &ANYONE).await.unwrap();
        let right = stack.plivo.last_code().await;
        for _ in 0..9 {
            let r = verifier.guess(&number, &wrong(&right)).await;
            assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
        }
        verifier.guess(&number, &right).await.unwrap();
        stack.clock.advance(30);
    }
    // Without a success in between, the tenth failure locks.
    sender.send(&number, &ANYONE).await.unwrap();
    let right = stack.plivo.last_code().await;
    for _ in 0..10 {
        let _ = verifier.guess(&number, &wrong(&right)).await;
    }
    let r = verifier.guess(&number, &right).await;
    assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");
}

/// Finding 3: a number with a pending code answered wrong guesses differently (401s then a
/// 429) from a number without one (401 forever), and cost a different number of requests.
/// Compared here: status, body, the `Retry-After` value (not only its presence: it must not
/// tell when a code was sent) and the DynamoDB requests of each guess.
#[tokio::test]
async fn wrong_guesses_read_the_same_with_or_without_a_pending_code() {
    let stack = Stack::new("").await;
    let (pending, idle) = (us(10), us(11));
    let right = stack.send(&pending, &ANYONE).await;
    let verifier = stack.verifier();
    let mut answers = [Vec::new(), Vec::new()];
    let mut requests = [Vec::new(), Vec::new()];
    for _ in 0..12 {
        for (i, number) in [&pending, &idle].into_iter().enumerate() {
            stack.requests.reset();
            let r = verifier.guess(number, &wrong(&right)).await;
            answers[i].push(seen(&r));
            requests[i].push(stack.requests.by_operation());
        }
    }
    assert_eq!(answers[0], answers[1], "answers differ");
    assert_eq!(requests[0], requests[1], "DynamoDB requests differ");
    assert!(answers[0].iter().any(|a| a.0 == 429), "{:?}", answers[0]);
    // A counted guess is one write; a refused one a write and, where DynamoDB does not return
    // the item, one read: nothing more.
    let refused: std::collections::BTreeMap<String, usize> = if returns_old_item() {
        [("UpdateItem".to_owned(), 1)].into()
    } else {
        [("GetItem".to_owned(), 1), ("UpdateItem".to_owned(), 1)].into()
    };
    assert_eq!(requests[0][0], [("UpdateItem".to_owned(), 1)].into());
    assert_eq!(requests[0][11], refused);
}

/// A used code leaves the number as if it never had one: the right guess is taken back off
/// the counts when it is consumed.
#[tokio::test]
async fn a_used_code_answers_a_run_of_guesses_like_no_code() {
    let stack = Stack::new("").await;
    let (used, never) = (us(12), us(13));
    let right = stack.send(&used, &ANYONE).await;
    let verifier = stack.verifier();
    verifier.guess(&used, &right).await.unwrap();
    let mut answers = [Vec::new(), Vec::new()];
    for _ in 0..8 {
        for (i, number) in [&used, &never].into_iter().enumerate() {
            let r = verifier.guess(number, &wrong(&right)).await;
            answers[i].push(seen(&r));
        }
    }
    assert_eq!(answers[0], answers[1]);
}

/// One-time use holds while a failed resend puts the previous code back: eight concurrent
/// verifies of the right code racing the restore never give two 200s.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_right_code_verifies_once_even_across_a_restore() {
    for trial in 0..5 {
        let stack = Stack::new("OTP_RESEND_COOLDOWN_SECONDS=0").await;
        let number = us(50 + trial);
        let right = stack.send(&number, &ANYONE).await;
        let failing_plivo = Plivo::failing(400).await;
        let sms = PlivoSmsSender::new(&failing_plivo.config(), quick_retry()).unwrap();
        let failing = Arc::new(otp_shared::service::SendOtp::new(
            stack.config(),
            stack.store(stack.instance_client()),
            sms,
            stack.clock.clone(),
        ));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (v, number, right) = (
                Arc::new(stack.patient_verifier()),
                number.clone(),
                right.clone(),
            );
            tasks.push(tokio::spawn(async move {
                v.guess(&number, &right).await.is_ok()
            }));
        }
        let (f, n) = (failing.clone(), number.clone());
        let send = tokio::spawn(async move { f.send(&n, &ANYONE).await });
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        let _ = send.await.unwrap();
        ok += usize::from(stack.verify(&number, &right, &ANYONE).await.is_ok());
        assert!(ok <= 1, "trial {trial}: the right code verified {ok} times");
    }
}

/// After a run of failures runs out (the restart path), a burst of guesses is still counted
/// before it is compared: at most five compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_on_the_restart_path_compares_at_most_max_attempts() {
    let stack = Stack::new(&format!("{LOCK_AT_10} OTP_LOCKOUT_SECONDS=3600")).await;
    let number = us(60);
    let (sender, verifier) = (stack.sender(), stack.verifier());
    sender.send(&number, &ANYONE).await.unwrap();
    for _ in 0..4 {
        let _ = verifier.guess(&number, "000000").await;
    }
    stack.clock.advance(3601);
    sender.send(&number, &ANYONE).await.unwrap();
    let right = stack.plivo.last_code().await;
    let barrier = Arc::new(tokio::sync::Barrier::new(40));
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let (v, number, barrier) = (
            Arc::new(stack.patient_verifier()),
            number.clone(),
            barrier.clone(),
        );
        let guess = format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            v.guess(&number, &guess).await
        }));
    }
    let mut compared = 0;
    for t in tasks {
        match t.await.unwrap() {
            Err(OtpError::InvalidOtp) => compared += 1,
            Err(OtpError::TooManyAttempts { .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(compared <= 5, "{compared} compared");
}

/// Finding 4: a /48 holds 65,536 /64s; rotating through them dodged the per-IP limits. One
/// /48 spends its send limit and, from another /48, its failure budget; a third is untouched.
#[tokio::test]
async fn rotating_64s_inside_one_48_meets_the_48_limits() {
    let stack = Stack::new(
        "OTP_MAX_SENDS_PER_IP_PER_HOUR=2 OTP_MAX_SENDS_PER_IPV6_48_PER_HOUR=5 \
         OTP_MAX_FAILURES_PER_IP_PER_HOUR=3 OTP_MAX_FAILURES_PER_IPV6_48_PER_HOUR=6",
    )
    .await;
    let (sender, verifier) = (stack.sender(), stack.verifier());
    let (mut sent, mut counted) = (0, 0);
    for i in 0..20 {
        let caller = from(&format!("2001:db8:aaaa:{i:x}::1"));
        for n in 0..2 {
            if sender.send(&us(i * 2 + n), &caller).await.is_ok() {
                sent += 1;
            }
        }
        let caller = from(&format!("2001:db8:cccc:{i:x}::1"));
        let r = verifier
            .verify(&us(200 + i), &code("123456"), &caller)
            .await;
        if matches!(r, Err(OtpError::InvalidOtp)) {
            counted += 1;
        }
    }
    assert_eq!((sent, counted), (5, 6));
    sender
        .send(&us(100), &from("2001:db8:bbbb:1::1"))
        .await
        .unwrap();
}

/// Finding 6: Plivo's Basic-auth token must never travel in clear to a remote host.
#[test]
fn plivo_over_plain_http_is_refused_except_on_loopback() {
    let with_url = |url: &str| {
        let url = url.to_owned();
        PlivoConfig::from_lookup(move |k| match k {
            "PLIVO_AUTH_ID" => Some(PLIVO_AUTH_ID.to_owned()),
            "PLIVO_AUTH_TOKEN" => Some(PLIVO_AUTH_TOKEN.to_owned()),
            "PLIVO_SENDER_ID" => Some(SENDER.to_owned()),
            "PLIVO_API_URL" => Some(url.clone()),
            _ => None,
        })
    };
    for bad in [
        "http://api.plivo.com",
        "http://10.0.0.5:8080",
        "http://127.0.0.1.example.com",
        "http://localhost.example.com",
        "ftp://api.plivo.com",
        "https://",
        "api.plivo.com",
    ] {
        let err = with_url(bad).unwrap_err();
        assert_eq!(err.var, "PLIVO_API_URL", "{bad}");
    }
    for good in [
        "https://api.plivo.com",
        "http://127.0.0.1:8010",
        "http://localhost:8010",
        "http://[::1]:8010/",
    ] {
        with_url(good).unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

/// Finding 6: a read timeout means Plivo may already have the message; retrying it could
/// send (and bill) the SMS twice.
#[tokio::test]
async fn a_read_timeout_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let policy = short_attempts(Duration::from_millis(1500));
    let sender = PlivoSmsSender::new(&plivo_config(&server.uri()), policy).unwrap();
    let text = secrecy::SecretString::from("Your verification code is 123456.");
    let err = sender.send(&us(0), &text, None).await.unwrap_err();
    assert!(
        matches!(err, SmsError::Unavailable { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Finding 7: a resend whose SMS fails used to leave the user with no valid code at all.
#[tokio::test]
async fn a_failed_resend_keeps_the_previous_code() {
    let plivo = Plivo::accepting_once_then_failing(Duration::ZERO).await;
    let stack = Stack::with_plivo(plivo, "").await;
    let number = us(0);
    let sender = stack.sender();
    sender.send(&number, &ANYONE).await.unwrap();
    let first = stack.plivo.last_code().await;
    let verifier = stack.verifier();
    let _ = verifier.guess(&number, &wrong(&first)).await;

    stack.clock.advance(30);
    let r = sender.send(&number, &ANYONE).await;
    assert!(matches!(r, Err(OtpError::SmsFailed(_))), "{r:?}");
    let undelivered = stack.plivo.last_code().await;
    if undelivered != first {
        let r = verifier.guess(&number, &undelivered).await;
        assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    }
    // The first code works again, with the attempts it had left (not a fresh five).
    verifier.guess(&number, &first).await.unwrap();

    // The failed send counted against the cooldown: Plivo may have delivered it.
    stack.clock.advance(10);
    let r = sender.send(&number, &ANYONE).await;
    assert!(
        matches!(
            r,
            Err(OtpError::RateLimited {
                retry_after: 20,
                ..
            })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_failed_resend_does_not_restore_fresh_attempts() {
    let stack = Stack::with_plivo(Plivo::failing(500).await, "OTP_MAX_ATTEMPTS=3").await;
    // First code delivered through a working Plivo, two of three attempts used.
    let good = Plivo::accepting().await;
    let number = us(1);
    let working = {
        let sms = PlivoSmsSender::new(&good.config(), quick_retry()).unwrap();
        otp_shared::service::SendOtp::new(
            stack.config(),
            stack.store(stack.instance_client()),
            sms,
            stack.clock.clone(),
        )
    };
    working.send(&number, &ANYONE).await.unwrap();
    let first = good.last_code().await;
    let verifier = stack.verifier();
    for _ in 0..2 {
        let _ = verifier.guess(&number, &wrong(&first)).await;
    }
    stack.clock.advance(30);
    assert!(stack.sender().send(&number, &ANYONE).await.is_err());
    // One attempt left on the restored code, not three.
    let r = verifier.guess(&number, &wrong(&first)).await;
    assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");
}

/// Finding 8: keypad letters were turned into digits and an SMS went out.
#[tokio::test]
async fn letters_in_phone_numbers_are_refused_and_nothing_is_sent() {
    for bad in [
        "+1415555ABCD",
        "+1 415 555 CALL",
        "+1415555267１",
        "+1415/555/2671",
        "+1 415 555 2671 x",
        "+14155552671;ext=1",
    ] {
        assert!(PhoneNumber::parse(bad).is_err(), "{bad}");
    }
    let stack = Stack::new("").await;
    for bad in ["+1415555ABCD", "+1 415 555 CALL"] {
        let body = serde_json::json!({ "phoneNumber": bad }).to_string();
        let mut req = lambda_http::Request::new(lambda_http::Body::Text(body));
        *req.method_mut() = lambda_http::http::Method::POST;
        let response = otp_shared::http::send_otp(&stack.sender(), req).await;
        assert_eq!(response.status(), 400);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("phoneNumber must be"), "{message}");
        assert!(!message.contains("CALL"), "{message}");
    }
    assert!(stack.plivo.sent().await.is_empty());
    assert!(stack.items().await.is_empty());
}

/// Finding 9: the template ships secure defaults: the operator must choose the countries,
/// and the SMS budget per minute is on.
#[test]
fn the_template_makes_the_operator_choose_countries_and_caps_sms_per_minute() {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let template: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let params = &template["Parameters"];
    assert!(
        params["AllowedCountries"].get("Default").is_none(),
        "AllowedCountries must have no default"
    );
    let budget = params["MaxSendsPerMinute"]["Default"].as_u64().unwrap();
    assert!(
        budget > 0,
        "the per-minute SMS budget must be on by default"
    );
    // The function agrees: without an allow-list it does not start, and `*` allows all.
    let lookup = |countries: Option<&'static str>| {
        move |k: &str| match k {
            "OTP_TABLE_NAME" => Some("t".to_owned()),
            "OTP_SECRET" => Some(SECRET.to_owned()),
            "OTP_ALLOWED_COUNTRIES" => countries.map(str::to_owned),
            _ => None,
        }
    };
    let err = OtpConfig::from_lookup(lookup(None)).unwrap_err();
    assert_eq!(err.var, "OTP_ALLOWED_COUNTRIES");
    let all = OtpConfig::from_lookup(lookup(Some("*"))).unwrap();
    assert_eq!(all.defences.allowed_countries, None);
}

/// The store's fallback paths run on every refusal: DynamoDB returns the old item with a
/// failed condition (asked with `ReturnValuesOnConditionCheckFailure`), dynalite does not.
/// `make test` runs this file both ways; this checks the run is the one it says it is.
#[tokio::test]
async fn a_refused_send_reads_the_item_only_when_dynamodb_does_not_return_it() {
    let stack = Stack::new("OTP_MAX_SENDS_PER_MINUTE=0").await;
    let sender = stack.sender();
    sender.send(&us(0), &ANYONE).await.unwrap();
    stack.requests.reset();
    let r = sender.send(&us(0), &ANYONE).await;
    assert!(
        matches!(
            r,
            Err(OtpError::RateLimited {
                retry_after: 30,
                ..
            })
        ),
        "{r:?}"
    );
    let requests = stack.requests.by_operation();
    let expected = if returns_old_item() {
        // The returned item shows the window open: no second write, no read.
        vec![("UpdateItem", 1)]
    } else {
        // The window might be over: a second write, then a read for Retry-After.
        vec![("GetItem", 1), ("UpdateItem", 2)]
    };
    let expected: std::collections::BTreeMap<String, usize> = expected
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    assert_eq!(requests, expected);
}

/// A stack with an SMS budget of 100 a minute and no per-IP limits, whose DynamoDB behaves as
/// `behaviour` says.
async fn budget_of_100(behaviour: Behaviour) -> Stack {
    let settings = "OTP_MAX_SENDS_PER_MINUTE=100 OTP_MAX_SENDS_PER_IP_PER_HOUR=0 \
                    OTP_MAX_FAILURES_PER_IP_PER_HOUR=0";
    Stack::with_dynamodb(Plivo::accepting().await, settings, behaviour).await
}

/// Finding 11: the per-minute SMS budget is one hot key if it is one item. Sharded, and with
/// a throttled shard counted as full, the breaker answers 429 (never 503) however hard
/// DynamoDB throttles its keys. The proxy throttles each key above 20 writes a second, a
/// fiftieth of DynamoDB's per-key rate, so a burst here is far above it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sms_budget_answers_429_never_503_when_its_keys_are_throttled() {
    let behaviour = Behaviour {
        max_writes_per_key_per_second: Some(20),
        ..Behaviour::default()
    };
    let stack = budget_of_100(behaviour).await;
    let instances: Vec<_> = (0..30).map(|_| Arc::new(stack.patient_sender())).collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(300));
    let mut tasks = Vec::new();
    for i in 0..300u32 {
        let (sender, barrier) = (instances[i as usize % 30].clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            sender.send(&us(i), &ANYONE).await
        }));
    }
    let (mut sent, mut limited) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => sent += 1,
            Err(OtpError::RateLimited { .. }) => limited += 1,
            other => panic!("expected 200 or 429, got {other:?}"),
        }
    }
    assert_eq!(sent + limited, 300);
    assert!(sent <= 100, "{sent} sent over a budget of 100");
    assert_eq!(stack.plivo.sent().await.len(), sent);
    // The budget is spread over two shards of 50, both used.
    let shards: Vec<_> = stack
        .items()
        .await
        .into_iter()
        .filter(|i| i["pk"].as_s().is_ok_and(|pk| pk.starts_with("global#")))
        .collect();
    assert_eq!(shards.len(), 2, "{shards:?}");
}

#[tokio::test]
async fn a_throttled_shard_sends_the_request_to_another() {
    let behaviour = Behaviour {
        throttle_keys_starting_with: Some("global#shard0#".into()),
        ..Behaviour::default()
    };
    let stack = budget_of_100(behaviour).await;
    let sender = stack.sender();
    for i in 0..10 {
        sender.send(&us(i), &ANYONE).await.unwrap();
    }
    // Every shard throttled: refused with 429, not a 503.
    let behaviour = Behaviour {
        throttle_keys_starting_with: Some("global#".into()),
        ..Behaviour::default()
    };
    let stack = budget_of_100(behaviour).await;
    let r = stack.sender().send(&us(0), &ANYONE).await;
    assert!(matches!(r, Err(OtpError::RateLimited { .. })), "{r:?}");
    assert!(stack.plivo.sent().await.is_empty());
}

/// docs/security.md's way to clear a lock: `scripts/phone-key` names the number's item, and zeroing
/// its count of consecutive failures unlocks it.
#[tokio::test]
async fn an_operator_can_find_a_locked_number_and_clear_the_lock() {
    let stack = Stack::new(&format!("{LOCK_AT_10} OTP_MAX_ATTEMPTS=100")).await;
    let number = us(7);
    let right = stack.send(&number, &ANYONE).await;
    let verifier = stack.verifier();
    for _ in 0..10 {
        let _ = verifier.guess(&number, &wrong(&right)).await;
    }
    let r = verifier.guess(&number, &right).await;
    assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");

    let out = std::process::Command::new(repo_root().join("scripts/phone-key"))
        .arg(number.e164())
        .env("OTP_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let pk = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    dynamodb_client()
        .update_item()
        .table_name(&stack.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
        .condition_expression("attribute_exists(pk)")
        .update_expression("SET consecutive_failures = :zero")
        .expression_attribute_values(
            ":zero",
            aws_sdk_dynamodb::types::AttributeValue::N("0".into()),
        )
        .send()
        .await
        .expect("the key names the number's item");
    verifier.guess(&number, &right).await.unwrap();
}

/// A run of failures that has run out starts again at the next guess: concurrent guesses
/// racing to restart it are all counted (none refused as if a limit held).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guesses_racing_to_restart_an_expired_run_of_failures_are_all_counted() {
    let stack = Stack::new(&format!(
        "{LOCK_AT_10} OTP_MAX_ATTEMPTS=100 OTP_LOCKOUT_SECONDS=3600"
    ))
    .await;
    let number = us(8);
    let verifier = stack.verifier();
    for _ in 0..5 {
        let r = verifier.guess(&number, "123456").await;
        assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    }
    stack.clock.advance(3600);
    for round in 0..10 {
        let barrier = Arc::new(tokio::sync::Barrier::new(4));
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let (verifier, barrier, number) =
                (Arc::new(stack.verifier()), barrier.clone(), number.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                verifier.guess(&number, "123456").await
            }));
        }
        let answers: Vec<_> = futures_answers(tasks).await;
        assert!(
            answers
                .iter()
                .all(|r| matches!(r, Err(OtpError::InvalidOtp))),
            "round {round}: {answers:?}"
        );
        // The next round starts a fresh run again.
        stack.clock.advance(3600);
    }
}

async fn futures_answers(
    tasks: Vec<tokio::task::JoinHandle<Result<(), OtpError>>>,
) -> Vec<Result<(), OtpError>> {
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// DynamoDB requests can be applied and their answer lost; the SDK then retries. A retried
/// consume is refused (the code is gone), but the token it left tells it the code was its
/// own: the right code verifies, once.
#[tokio::test]
async fn a_right_code_whose_consume_answer_was_lost_still_verifies_once() {
    let behaviour = Behaviour {
        delay_first_answer_to: Some(("REMOVE code_hash".into(), Duration::from_secs(6))),
        ..Behaviour::default()
    };
    let stack = Stack::with_dynamodb(Plivo::accepting().await, "", behaviour).await;
    let number = us(9);
    let right = stack.send(&number, &ANYONE).await;
    // The held answer outlasts an attempt (3 s) by far; the operation has time for the
    // retry however busy the machine is.
    let dynamodb = stack
        .requests
        .attach(&stack.client_with_timeouts(Duration::from_secs(3), Duration::from_secs(60)));
    let verifier = stack.verifier_with(dynamodb);
    stack.requests.reset();
    verifier.guess(&number, &right).await.unwrap();
    let updates = stack.requests.by_operation()["UpdateItem"];
    assert!(
        updates >= 3,
        "count, consume, and the consume retried: {updates}"
    );
    let again = verifier.guess(&number, &right).await;
    assert!(matches!(again, Err(OtpError::InvalidOtp)), "{again:?}");
}

/// A failed resend puts the previous code back only while it is still valid: one that ran
/// out while the SMS was failing is not restored.
#[tokio::test]
async fn a_failed_resend_does_not_restore_a_code_that_expired_meanwhile() {
    let plivo = Plivo::accepting_once().await;
    let stack =
        Stack::with_plivo(plivo, "OTP_EXPIRY_SECONDS=60 OTP_RESEND_COOLDOWN_SECONDS=0").await;
    // The second message fails, and takes a second doing so.
    let clock = stack.clock.clone();
    Mock::given(method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            clock.advance(1);
            plivo_error(400, "simulated failure")
        })
        .with_priority(2)
        .mount(&stack.plivo.server)
        .await;
    let number = us(14);
    let sender = stack.sender();
    sender.send(&number, &ANYONE).await.unwrap();
    let first = stack.plivo.last_code().await;
    stack.clock.advance(59);
    let r = sender.send(&number, &ANYONE).await;
    assert!(matches!(r, Err(OtpError::SmsFailed(_))), "{r:?}");
    let items = stack.phone_items().await;
    assert!(!items[0].contains_key("code_hash"), "{:?}", items[0]);
    let r = stack.verify(&number, &first, &ANYONE).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
}
