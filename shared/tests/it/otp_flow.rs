//! Send and verify against a real DynamoDB-compatible server and a Plivo stand-in: every
//! security rule of the service, including under concurrency.

use std::sync::Arc;

use crate::common::*;
use aws_sdk_dynamodb::types::AttributeValue;
use otp_shared::clock::Clock;
use otp_shared::domain::PhoneNumber;
use otp_shared::error::OtpError;
use otp_shared::store::TTL_ATTRIBUTE;

const PHONE: &str = "+14155552671";

fn phone() -> PhoneNumber {
    PhoneNumber::parse(PHONE).unwrap()
}

#[tokio::test]
async fn a_sent_code_verifies_once() {
    let stack = Stack::new("").await;
    let sent = stack.sender().send(&phone(), &ANYONE).await.unwrap();
    assert_eq!(sent.expires_in, 300);

    let sms = stack.plivo.sent().await;
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0]["dst"], PHONE);
    assert_eq!(sms[0]["src"], SENDER);
    assert_eq!(sms[0]["log"], false);
    let right = stack.plivo.last_code().await;
    assert_eq!(
        sms[0]["text"],
        format!("Your verification code is {right}. It expires in 5 minutes.")
    );

    let verifier = stack.verifier();
    verifier.guess(&phone(), &right).await.unwrap();
    let again = verifier.guess(&phone(), &right).await;
    assert!(matches!(again, Err(OtpError::InvalidOtp)), "{again:?}");
}

#[tokio::test]
async fn the_code_is_bound_to_the_number_it_was_sent_to() {
    let stack = Stack::new("").await;
    let right = stack.send(&phone(), &ANYONE).await;
    let other = PhoneNumber::parse("+14155552672").unwrap();
    let result = stack.verify(&other, &right, &ANYONE).await;
    assert!(matches!(result, Err(OtpError::InvalidOtp)));
    stack.verify(&phone(), &right, &ANYONE).await.unwrap();
}

#[tokio::test]
async fn nothing_secret_is_stored_in_plain_text() {
    let stack = Stack::new("").await;
    let right = stack.send(&phone(), &ANYONE).await;

    let items = stack.items().await;
    assert_eq!(stack.phone_items().await.len(), 1);
    let dump = format!("{items:?}");
    for secret in [PHONE, &PHONE[1..], "4155552671", right.as_str(), SECRET] {
        assert!(!dump.contains(secret), "{secret} found in {dump}");
    }
    let code_hash = stack.phone_items().await[0]["code_hash"]
        .as_b()
        .unwrap()
        .clone();
    assert_eq!(code_hash.as_ref().len(), 32);
    assert!(!code_hash.as_ref().windows(6).any(|w| w == right.as_bytes()));
}

#[tokio::test]
async fn items_carry_the_tables_ttl_attribute_in_epoch_seconds() {
    let stack = Stack::new("").await;
    let template = template_table();
    assert_eq!(
        template["TimeToLiveSpecification"]["AttributeName"].as_str(),
        Some(TTL_ATTRIBUTE)
    );
    assert_eq!(
        template["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );

    stack.sender().send(&phone(), &ANYONE).await.unwrap();
    let items = stack.phone_items().await;
    let ttl: u64 = items[0][TTL_ATTRIBUTE].as_n().unwrap().parse().unwrap();
    let now = stack.clock.now();
    // Kept while the number's counters matter (its consecutive failures last a day after
    // the last one), and no longer.
    assert_eq!(ttl, now + 86_400, "ttl {ttl}, now {now}");
}

#[tokio::test]
async fn an_expired_code_is_refused_even_before_dynamodb_deletes_it() {
    let stack = Stack::new("OTP_EXPIRY_SECONDS=60").await;
    let right = stack.send(&phone(), &ANYONE).await;

    stack.clock.advance(60);
    let result = stack.verify(&phone(), &right, &ANYONE).await;
    assert!(matches!(result, Err(OtpError::InvalidOtp)), "{result:?}");
    // The item is still there: expiry came from the stored time, not from deletion.
    assert_eq!(stack.phone_items().await.len(), 1);
}

#[tokio::test]
async fn a_code_is_accepted_until_its_last_second() {
    let stack = Stack::new("OTP_EXPIRY_SECONDS=60").await;
    let right = stack.send(&phone(), &ANYONE).await;
    stack.clock.advance(59);
    stack.verify(&phone(), &right, &ANYONE).await.unwrap();
}

#[tokio::test]
async fn no_pending_code_wrong_code_expired_and_used_get_the_same_answer() {
    let stack = Stack::new("OTP_EXPIRY_SECONDS=60").await;
    let verifier = stack.verifier();
    let none = verifier.guess(&phone(), "123456").await.unwrap_err();

    let right = stack.send(&phone(), &ANYONE).await;
    let wrong_code = verifier.guess(&phone(), &wrong(&right)).await.unwrap_err();
    verifier.guess(&phone(), &right).await.unwrap();
    let used = verifier.guess(&phone(), &right).await.unwrap_err();

    stack.clock.advance(60);
    let fresh = stack.send(&phone(), &ANYONE).await;
    stack.clock.advance(60);
    let expired = verifier.guess(&phone(), &fresh).await.unwrap_err();

    let bodies: Vec<_> = [none, wrong_code, used, expired]
        .iter()
        .map(|e| {
            let r = otp_shared::http::error_response(e);
            (r.status(), body_text(&r), r.headers().clone())
        })
        .collect();
    assert_eq!(bodies[0].0, 401);
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "answers differ");
}

#[tokio::test]
async fn wrong_guesses_burn_the_code_after_max_attempts() {
    let stack = Stack::new("OTP_MAX_ATTEMPTS=3").await;
    let right = stack.send(&phone(), &ANYONE).await;
    let verifier = stack.verifier();
    let bad = code(&wrong(&right));

    for _ in 0..2 {
        let r = verifier.verify(&phone(), &bad, &ANYONE).await;
        assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    }
    let third = verifier.verify(&phone(), &bad, &ANYONE).await;
    assert!(
        matches!(third, Err(OtpError::TooManyAttempts { .. })),
        "{third:?}"
    );
    let right_after = verifier.guess(&phone(), &right).await;
    match right_after {
        Err(OtpError::TooManyAttempts { retry_after, .. }) => assert!(retry_after >= 1),
        other => panic!("the burned code was accepted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_wrong_guesses_never_let_the_right_code_through() {
    let stack = Stack::new("OTP_MAX_ATTEMPTS=5 OTP_MAX_FAILURES_PER_HOUR=0").await;
    let right = stack.send(&phone(), &ANYONE).await;
    let bad = wrong(&right);

    let instances: Vec<_> = (0..4).map(|_| Arc::new(stack.verifier())).collect();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let verifier = instances[i % instances.len()].clone();
        let bad = bad.clone();
        tasks.push(tokio::spawn(
            async move { verifier.guess(&phone(), &bad).await },
        ));
    }
    let mut refused = 0;
    let mut exhausted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Err(OtpError::InvalidOtp) => refused += 1,
            Err(OtpError::TooManyAttempts { .. }) => exhausted += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // Exactly four guesses were counted as plain misses; the fifth burned the code.
    assert_eq!(refused, 4);
    assert_eq!(exhausted, 36);
    let items = stack.phone_items().await;
    assert_eq!(items[0]["attempts"].as_n().unwrap(), "5");

    let after = stack.verify(&phone(), &right, &ANYONE).await;
    assert!(
        matches!(after, Err(OtpError::TooManyAttempts { .. })),
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_verifies_with_the_right_code_succeed_exactly_once() {
    let stack = Stack::new("").await;
    let right = stack.send(&phone(), &ANYONE).await;

    let mut tasks = Vec::new();
    for _ in 0..8 {
        let verifier = stack.verifier();
        let right = right.clone();
        tasks.push(tokio::spawn(async move {
            verifier.guess(&phone(), &right).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => ok += 1,
            // Compared after another one used the code, or not counted at all (the code's
            // five attempts went to the first five).
            Err(OtpError::InvalidOtp | OtpError::TooManyAttempts { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn a_resend_within_the_cooldown_is_rate_limited() {
    let stack = Stack::new("OTP_RESEND_COOLDOWN_SECONDS=30").await;
    let sender = stack.sender();
    sender.send(&phone(), &ANYONE).await.unwrap();
    stack.clock.advance(10);
    assert_rate_limited(sender.send(&phone(), &ANYONE).await, 20);
    assert_eq!(stack.plivo.sent().await.len(), 1);
    stack.clock.advance(20);
    sender.send(&phone(), &ANYONE).await.unwrap();
    assert_eq!(stack.plivo.sent().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_to_one_number_send_exactly_one_sms() {
    let stack = Stack::new("").await;
    let jobs = (0..8).map(|_| (phone(), ANYONE)).collect();
    assert_eq!(stack.concurrent_sends(jobs).await, 1);
    assert_eq!(stack.plivo.sent().await.len(), 1);
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let stack = Stack::new("OTP_RESEND_COOLDOWN_SECONDS=30").await;
    let sender = stack.sender();
    sender.send(&phone(), &ANYONE).await.unwrap();
    let first = stack.plivo.last_code().await;
    stack.clock.advance(30);
    sender.send(&phone(), &ANYONE).await.unwrap();
    let second = stack.plivo.last_code().await;

    let verifier = stack.verifier();
    if first != second {
        let old = verifier.guess(&phone(), &first).await;
        assert!(matches!(old, Err(OtpError::InvalidOtp)), "{old:?}");
    }
    verifier.guess(&phone(), &second).await.unwrap();
}

#[tokio::test]
async fn the_hourly_send_cap_holds_and_reopens_after_the_window() {
    let stack = Stack::new("OTP_RESEND_COOLDOWN_SECONDS=0 OTP_MAX_SENDS_PER_HOUR=3").await;
    let sender = stack.sender();
    for _ in 0..3 {
        sender.send(&phone(), &ANYONE).await.unwrap();
        stack.clock.advance(60);
    }
    assert_rate_limited(sender.send(&phone(), &ANYONE).await, 3600 - 180);
    assert_eq!(stack.plivo.sent().await.len(), 3);
    stack.clock.advance(3600 - 180);
    sender.send(&phone(), &ANYONE).await.unwrap();
    assert_eq!(stack.plivo.sent().await.len(), 4);
}

#[tokio::test]
async fn asking_for_new_codes_does_not_buy_more_guesses() {
    let stack =
        Stack::new("OTP_MAX_ATTEMPTS=3 OTP_MAX_FAILURES_PER_HOUR=5 OTP_RESEND_COOLDOWN_SECONDS=0")
            .await;
    let sender = stack.sender();
    let verifier = stack.verifier();

    // First code: three wrong guesses burn it (failures: 3).
    sender.send(&phone(), &ANYONE).await.unwrap();
    let first = stack.plivo.last_code().await;
    for _ in 0..3 {
        let _ = verifier.guess(&phone(), &wrong(&first)).await;
    }
    // Second code: the number has two failures left, not three.
    sender.send(&phone(), &ANYONE).await.unwrap();
    let second = stack.plivo.last_code().await;
    let r = verifier.guess(&phone(), &wrong(&second)).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    let r = verifier.guess(&phone(), &wrong(&second)).await;
    assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");
    // Budget spent: the right code fails by number. Wrong guesses never hold a send back, but
    // a new code cannot be guessed by number until the hour is over.
    let r = verifier.guess(&phone(), &second).await;
    assert!(matches!(r, Err(OtpError::TooManyAttempts { .. })), "{r:?}");
    sender.send(&phone(), &ANYONE).await.unwrap();
    let third = stack.plivo.last_code().await;
    let r = verifier.guess(&phone(), &third).await;
    assert!(
        matches!(
            r,
            Err(OtpError::TooManyAttempts {
                retry_after: 3600,
                ..
            })
        ),
        "{r:?}"
    );
    assert_eq!(stack.plivo.sent().await.len(), 3);

    stack.clock.advance(3600);
    sender.send(&phone(), &ANYONE).await.unwrap();
    let fourth = stack.plivo.last_code().await;
    verifier.guess(&phone(), &fourth).await.unwrap();
}

#[tokio::test]
async fn when_plivo_refuses_the_stored_code_is_voided_and_the_caller_gets_502() {
    let stack = Stack::with_plivo(Plivo::failing(400).await, "").await;
    let result = stack.sender().send(&phone(), &ANYONE).await;
    assert!(matches!(result, Err(OtpError::SmsFailed(_))), "{result:?}");
    assert_eq!(answer(&result.unwrap_err()).0, 502);
    // One request only: a 400 is not retried.
    assert_eq!(stack.plivo.sent().await.len(), 1);

    let sent = stack.plivo.sent().await;
    let text = sent[0]["text"].as_str().unwrap();
    let undelivered = code_in(text);
    let items = stack.phone_items().await;
    assert!(
        !items[0].contains_key("code_hash"),
        "code left usable: {:?}",
        items[0]
    );
    let r = stack.verify(&phone(), &undelivered, &ANYONE).await;
    assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
}

#[tokio::test]
async fn when_plivo_stays_down_the_code_is_voided_after_bounded_retries() {
    let stack = Stack::with_plivo(Plivo::failing(500).await, "").await;
    let started = std::time::Instant::now();
    let result = stack.sender().send(&phone(), &ANYONE).await;
    assert!(matches!(result, Err(OtpError::SmsFailed(_))), "{result:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(stack.plivo.sent().await.len(), 3);
    let items = stack.phone_items().await;
    assert!(!items[0].contains_key("code_hash"));
}

#[tokio::test]
async fn the_code_is_stored_before_the_sms_leaves() {
    // Plivo answers slowly; while the request is in flight the code is already in the table.
    let plivo = Plivo::accepting().await;
    let stack = Stack::with_plivo(plivo, "").await;
    let slow = wiremock::MockServer::start().await;
    let table = stack.table.clone();
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(move |_: &wiremock::Request| {
            // Runs while the send is waiting for Plivo.
            let client = dynamodb_client();
            let table = table.clone();
            let seen = std::thread::spawn(move || {
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    client
                        .scan()
                        .table_name(&table)
                        .send()
                        .await
                        .unwrap()
                        .items
                        .unwrap_or_default()
                        .iter()
                        .any(|i| i.contains_key("code_hash"))
                })
            })
            .join()
            .unwrap();
            let status = if seen { 202 } else { 400 };
            wiremock::ResponseTemplate::new(status).set_body_json(serde_json::json!({
                "api_id": "x", "message": "message(s) queued", "message_uuid": ["y"]
            }))
        })
        .mount(&slow)
        .await;
    let sms =
        otp_shared::sms::PlivoSmsSender::new(&plivo_config(&slow.uri()), quick_retry()).unwrap();
    let sender = otp_shared::service::SendOtp::new(
        stack.config(),
        stack.store(stack.instance_client()),
        sms,
        stack.clock.clone(),
    );
    sender
        .send(&phone(), &ANYONE)
        .await
        .expect("code was not stored before the sms request");
}

#[tokio::test]
async fn an_unreachable_dynamodb_gives_503_quickly_and_sends_nothing() {
    let stack = Stack::new("").await;
    // Nothing listens on port 9 of loopback: connections are refused.
    let dead = dynamodb_client_for("http://127.0.0.1:9");
    let sender = stack.sender_with(dead.clone(), quick_retry());
    let started = std::time::Instant::now();
    let result = sender.send(&phone(), &ANYONE).await;
    assert!(
        matches!(result, Err(OtpError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(answer(&result.unwrap_err()).0, 503);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(stack.plivo.sent().await.is_empty());

    let verifier = stack.verifier_with(dead);
    let result = verifier.guess(&phone(), "123456").await;
    assert!(
        matches!(result, Err(OtpError::Unavailable(_))),
        "{result:?}"
    );
}

/// What DynamoDB answers decides the status: its own failures and throttling of a number's
/// item are 503 (try again), a request it finds invalid is a 500 (a deployment problem).
#[tokio::test]
async fn dynamodb_failures_map_to_503_or_500_by_their_kind() {
    use otp_devtools::dynamodb_proxy::Behaviour;
    // The cases run side by side: the SDK's backoff on the retryable ones takes seconds each.
    let cases = [
        (500, "InternalServerError", 503),
        (503, "ServiceUnavailable", 503),
        (400, "ThrottlingException", 503),
        (400, "ProvisionedThroughputExceededException", 503),
        (400, "RequestLimitExceeded", 503),
        (400, "ValidationException", 500),
        (400, "AccessDeniedException", 500),
    ]
    .map(|(status, error_type, expected)| async move {
        let behaviour = Behaviour {
            fail_updates_with: Some((status, error_type.to_owned())),
            ..Behaviour::default()
        };
        let quiet = "OTP_MAX_SENDS_PER_MINUTE=0 OTP_MAX_SENDS_PER_IP_PER_HOUR=0 \
                     OTP_MAX_FAILURES_PER_IP_PER_HOUR=0";
        let stack = Stack::with_dynamodb(Plivo::accepting().await, quiet, behaviour).await;
        let sent = stack.sender().send(&phone(), &ANYONE).await.unwrap_err();
        assert_eq!(answer(&sent).0, expected, "send, {error_type}");
        let verified = stack.verify(&phone(), "123456", &ANYONE).await.unwrap_err();
        assert_eq!(answer(&verified).0, expected, "verify, {error_type}");
        assert!(stack.plivo.sent().await.is_empty());
    });
    let mut running = tokio::task::JoinSet::new();
    for case in cases {
        running.spawn(case);
    }
    while let Some(case) = running.join_next().await {
        case.expect("each kind maps as listed");
    }
}

#[tokio::test]
async fn a_missing_table_is_an_internal_error_without_detail() {
    let stack = Stack::new("").await;
    let cfg = otp_config("no-such-table", &[]);
    let store =
        otp_shared::store::DynamoDbStore::new(stack.instance_client(), "no-such-table", cfg.limits);
    let verifier = otp_shared::service::VerifyOtp::new(cfg, store, stack.clock.clone());
    let err = verifier.guess(&phone(), "123456").await.unwrap_err();
    assert!(matches!(err, OtpError::Internal(_)), "{err:?}");
    let (_, body) = answer(&err);
    assert!(!body.contains("no-such-table"));
}

#[tokio::test]
async fn stored_items_use_the_expected_attribute_types() {
    let stack = Stack::new("").await;
    stack.sender().send(&phone(), &ANYONE).await.unwrap();
    let item = &stack.phone_items().await[0];
    assert!(matches!(item["pk"], AttributeValue::S(_)));
    for n in [
        "code_expires_at",
        "attempts",
        "last_sent_at",
        "window_started_at",
        TTL_ATTRIBUTE,
    ] {
        assert!(
            matches!(item[n], AttributeValue::N(_)),
            "{n}: {:?}",
            item[n]
        );
    }
    assert_eq!(
        item["code_expires_at"].as_n().unwrap(),
        &(START + 300).to_string()
    );
}
