//! Abuse and fraud defences, each at its boundary and under concurrency, against a real
//! DynamoDB-compatible server; and what each costs in DynamoDB requests.

use std::sync::Arc;

use crate::common::*;
use otp_shared::domain::PhoneNumber;
use otp_shared::error::OtpError;

/// Only the phone-number limits: the defences under test are switched on one by one.
const QUIET: &str = "OTP_MAX_SENDS_PER_IP_PER_HOUR=0 OTP_MAX_FAILURES_PER_IP_PER_HOUR=0 \
                     OTP_MAX_SENDS_PER_MINUTE=0";

/// `QUIET` with `extra` taking precedence.
fn with(extra: &str) -> String {
    format!("{extra} {QUIET}")
}

/// Each of `refused` gets 400 `code`, and nothing is sent or stored; `allowed` still gets its
/// code.
async fn assert_refused(stack: &Stack, refused: &[&str], code: &str, allowed: &str) {
    let sender = stack.sender();
    for number in refused {
        let err = sender.send(&phone(number), &ANYONE).await.unwrap_err();
        let (status, body) = answer(&err);
        assert_eq!(status, 400, "{number}: {err:?}");
        assert!(
            body.contains(&format!(r#""code":"{code}""#)),
            "{number}: {body}"
        );
    }
    assert!(stack.plivo.sent().await.is_empty());
    assert!(stack.items().await.is_empty());
    sender.send(&phone(allowed), &ANYONE).await.unwrap();
}

#[tokio::test]
async fn numbers_outside_the_allowed_countries_get_400_and_nothing_happens() {
    let stack = Stack::new(&with("OTP_ALLOWED_COUNTRIES=US,CA")).await;
    let refused = ["+447400123456", "+33612345678"];
    assert_refused(&stack, &refused, "country_not_allowed", "+14155552671").await;
}

#[tokio::test]
async fn premium_toll_free_landline_voip_and_uan_numbers_are_refused_by_default() {
    let stack = Stack::new(&with("")).await;
    let refused = [
        "+19005550100",  // US premium rate
        "+18005550100",  // US toll free
        "+449098790000", // UK premium rate
        "+442079460000", // UK landline
        "+445612345678", // UK VoIP
        "+445512345678", // UK UAN
        "+447012345678", // UK personal number
    ];
    assert_refused(&stack, &refused, "number_type_not_allowed", "+447400123456").await;
}

#[tokio::test]
async fn voip_numbers_can_be_allowed_explicitly() {
    let stack = Stack::new(&with("OTP_ALLOWED_NUMBER_TYPES=mobile,voip")).await;
    let sender = stack.sender();
    sender.send(&phone("+445612345678"), &ANYONE).await.unwrap();
    // The list replaces the default: numbers that may be landlines are now refused.
    let err = sender
        .send(&phone("+14155552671"), &ANYONE)
        .await
        .unwrap_err();
    assert!(matches!(err, OtpError::NumberTypeNotAllowed));
}

#[tokio::test]
async fn a_client_ip_gets_its_hourly_sends_and_no_more() {
    let stack = Stack::new(&with("OTP_MAX_SENDS_PER_IP_PER_HOUR=3")).await;
    let sender = stack.sender();
    let attacker = from("198.51.100.7");
    for n in 0..3 {
        sender.send(&us(n), &attacker).await.unwrap();
    }
    match sender.send(&us(3), &attacker).await {
        Err(OtpError::RateLimited { retry_after, .. }) => {
            assert!((1..=3600).contains(&retry_after), "{retry_after}")
        }
        other => panic!("expected rate limiting, got {other:?}"),
    }
    // Another client is unaffected; so is an address in another IPv6 /64.
    sender.send(&us(4), &from("198.51.100.8")).await.unwrap();
    assert_eq!(stack.plivo.sent().await.len(), 4);
    // The next hour the client may send again.
    stack.clock.advance(3600);
    sender.send(&us(5), &attacker).await.unwrap();
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_64_block() {
    let stack = Stack::new(&with("OTP_MAX_SENDS_PER_IP_PER_HOUR=2")).await;
    let sender = stack.sender();
    sender.send(&us(0), &from("2001:db8:1:2::1")).await.unwrap();
    sender
        .send(&us(1), &from("2001:db8:1:2::ffff"))
        .await
        .unwrap();
    let rotated = sender.send(&us(2), &from("2001:db8:1:2:abcd::9")).await;
    assert!(
        matches!(rotated, Err(OtpError::RateLimited { .. })),
        "{rotated:?}"
    );
    sender.send(&us(3), &from("2001:db8:1:3::1")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_from_one_ip_with_one_slot_left_send_exactly_one_sms() {
    let stack = Stack::new(&with("OTP_MAX_SENDS_PER_IP_PER_HOUR=5")).await;
    let ip = from("203.0.113.9");
    for n in 0..4 {
        stack.sender().send(&us(n), &ip).await.unwrap();
    }
    let jobs = (10..18).map(|n| (us(n), ip)).collect();
    assert_eq!(stack.concurrent_sends(jobs).await, 1);
    assert_eq!(stack.plivo.sent().await.len(), 5);
}

#[tokio::test]
async fn requests_refused_later_do_not_use_up_the_ip_budget() {
    let stack = Stack::new(&with("OTP_MAX_SENDS_PER_IP_PER_HOUR=2")).await;
    let sender = stack.sender();
    let ip = from("203.0.113.10");
    sender.send(&us(0), &ip).await.unwrap();
    // Within the number's cooldown: refused after the IP counter was taken, and given back.
    for _ in 0..3 {
        let again = sender.send(&us(0), &ip).await;
        assert!(
            matches!(again, Err(OtpError::RateLimited { .. })),
            "{again:?}"
        );
    }
    sender.send(&us(1), &ip).await.unwrap();
    let third = sender.send(&us(2), &ip).await;
    assert!(
        matches!(third, Err(OtpError::RateLimited { .. })),
        "{third:?}"
    );
}

#[tokio::test]
async fn a_number_range_gets_its_hourly_sends() {
    let stack = Stack::new(&with(
        "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR=2 OTP_PREFIX_DIGITS=6",
    ))
    .await;
    let sender = stack.sender();
    // Pumping rotates numbers inside one range: +1 415 555 xxxx.
    sender.send(&us(0), &ANYONE).await.unwrap();
    sender.send(&us(1), &ANYONE).await.unwrap();
    let third = sender.send(&us(2), &ANYONE).await;
    assert!(
        matches!(third, Err(OtpError::RateLimited { .. })),
        "{third:?}"
    );
    // Another range is unaffected.
    sender.send(&phone("+14155662671"), &ANYONE).await.unwrap();
    assert_eq!(stack.plivo.sent().await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_into_a_range_with_one_slot_left_send_exactly_one_sms() {
    let stack = Stack::new(&with(
        "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR=3 OTP_PREFIX_DIGITS=6",
    ))
    .await;
    for n in 0..2 {
        stack.sender().send(&us(n), &ANYONE).await.unwrap();
    }
    let jobs = (10..18).map(|n| (us(n), ANYONE)).collect();
    assert_eq!(stack.concurrent_sends(jobs).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_global_budget_per_minute_holds_under_a_distributed_burst() {
    let stack = Stack::new(&with("OTP_MAX_SENDS_PER_MINUTE=4")).await;
    // Three sends earlier in the minute, from anywhere.
    for n in 0..3 {
        stack
            .sender()
            .send(&us(n), &from(&format!("192.0.2.{n}")))
            .await
            .unwrap();
    }
    // Then eight clients at once, each to its own number: one slot is left.
    let jobs = (10..18)
        .map(|n| (us(n), from(&format!("198.51.100.{n}"))))
        .collect();
    assert_eq!(stack.concurrent_sends(jobs).await, 1);
    assert_eq!(stack.plivo.sent().await.len(), 4);
    match stack.sender().send(&us(30), &ANYONE).await {
        Err(OtpError::RateLimited { retry_after, .. }) => assert!((1..=60).contains(&retry_after)),
        other => panic!("expected the breaker to hold, got {other:?}"),
    }
    stack.clock.advance(60);
    stack.sender().send(&us(30), &ANYONE).await.unwrap();
}

/// Sends a code to each of `numbers` and returns the codes.
async fn codes_for(stack: &Stack, numbers: &[PhoneNumber]) -> Vec<String> {
    let mut codes = Vec::new();
    for number in numbers {
        stack.sender().send(number, &ANYONE).await.unwrap();
        codes.push(stack.plivo.last_code().await);
    }
    codes
}

#[tokio::test]
async fn one_ip_cannot_guess_across_many_numbers() {
    let stack = Stack::new(&with("OTP_MAX_FAILURES_PER_IP_PER_HOUR=3")).await;
    let numbers: Vec<_> = (0..5).map(us).collect();
    let codes = codes_for(&stack, &numbers).await;
    let verifier = stack.verifier();
    let attacker = from("198.51.100.66");
    for i in 0..3 {
        let r = verifier
            .verify(&numbers[i], &code(&wrong(&codes[i])), &attacker)
            .await;
        assert!(matches!(r, Err(OtpError::InvalidOtp)), "{r:?}");
    }
    // Budget spent: even a right guess is not evaluated.
    let r = verifier
        .verify(&numbers[3], &code(&codes[3]), &attacker)
        .await;
    match r {
        Err(OtpError::TooManyAttempts { retry_after, .. }) => {
            assert!((1..=3600).contains(&retry_after))
        }
        other => panic!("expected the ip budget to hold, got {other:?}"),
    }
    // The code was not consumed: its owner, from another address, still verifies.
    verifier
        .verify(&numbers[3], &code(&codes[3]), &from("192.0.2.44"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_guesses_with_one_failure_left_evaluate_exactly_one() {
    let stack = Stack::new(&with("OTP_MAX_FAILURES_PER_IP_PER_HOUR=4")).await;
    let numbers: Vec<_> = (0..9).map(us).collect();
    let codes = codes_for(&stack, &numbers).await;
    let attacker = from("198.51.100.77");
    let verifier = stack.verifier();
    for _ in 0..3 {
        let _ = verifier
            .verify(&numbers[0], &code(&wrong(&codes[0])), &attacker)
            .await;
    }
    let verifier = Arc::new(stack.verifier());
    let mut tasks = Vec::new();
    for i in 1..9 {
        let (verifier, number, guess) = (verifier.clone(), numbers[i].clone(), wrong(&codes[i]));
        tasks.push(tokio::spawn(async move {
            verifier.verify(&number, &code(&guess), &attacker).await
        }));
    }
    let (mut evaluated, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Err(OtpError::InvalidOtp) => evaluated += 1,
            Err(OtpError::TooManyAttempts { .. }) => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((evaluated, refused), (1, 7));
}

#[tokio::test]
async fn right_codes_do_not_use_up_the_ip_failure_budget() {
    let stack = Stack::new(&with("OTP_MAX_FAILURES_PER_IP_PER_HOUR=1")).await;
    let numbers: Vec<_> = (0..4).map(us).collect();
    let codes = codes_for(&stack, &numbers).await;
    let office = from("192.0.2.200");
    for i in 0..4 {
        stack.verify(&numbers[i], &codes[i], &office).await.unwrap();
    }
}

#[tokio::test]
async fn dynamodb_requests_per_operation_with_the_counters_off() {
    let stack = Stack::new(&with("")).await;
    let sender = stack.sender();
    let verifier = stack.verifier();
    let caller = from("192.0.2.1");

    sender.send(&us(0), &caller).await.unwrap();
    assert_eq!(
        stack.requests.total(),
        1,
        "send: {:?}",
        stack.requests.by_operation()
    );
    let right = stack.plivo.last_code().await;

    stack.requests.reset();
    let _ = verifier
        .verify(&us(0), &code(&wrong(&right)), &caller)
        .await;
    // Counted (and the stored hash read back) in one write.
    assert_eq!(
        stack.requests.total(),
        1,
        "wrong code: {:?}",
        stack.requests.by_operation()
    );

    stack.requests.reset();
    verifier
        .verify(&us(0), &code(&right), &caller)
        .await
        .unwrap();
    // Counted, then consumed.
    assert_eq!(
        stack.requests.total(),
        2,
        "right code: {:?}",
        stack.requests.by_operation()
    );
}

#[tokio::test]
async fn each_counter_switched_on_adds_one_request_to_a_send() {
    // The defaults switch every counter on but the number-range one.
    let stack = Stack::new("OTP_MAX_SENDS_PER_PREFIX_PER_HOUR=100").await;
    // IPv4: one unit of each send counter; the IP failure budget taken on a guess, and given
    // back after a right code. IPv6: the /48 counted too, one more on each.
    for (n, ip, on_send, on_verify) in [(0, "192.0.2.1", 4, 4), (1, "2001:db8:1:2::1", 5, 6)] {
        let caller = from(ip);
        stack.requests.reset();
        stack.sender().send(&us(n), &caller).await.unwrap();
        stack.assert_requests(on_send);
        let right = stack.plivo.last_code().await;
        stack.requests.reset();
        stack.verify(&us(n), &right, &caller).await.unwrap();
        stack.assert_requests(on_verify);
    }
}

/// Where pumping aims shows in the logs as the range the masked number shows and a short
/// keyed hash of the counted range, never as the number.
#[tokio::test]
async fn a_range_limit_logs_the_range_and_its_hash_never_the_number() {
    let logs = LogBuffer::default();
    let _scope = logs.capture();
    let stack = Stack::new("OTP_MAX_SENDS_PER_PREFIX_PER_HOUR=1 OTP_PREFIX_DIGITS=6").await;
    stack.sender().send(&us(1), &ANYONE).await.unwrap();
    let refused = stack.sender().send(&us(2), &ANYONE).await.unwrap_err();
    assert!(
        matches!(refused, OtpError::RateLimited { .. }),
        "{refused:?}"
    );
    let line = logs.line("send limit reached").expect("logged");
    assert!(
        line.contains("sends per number prefix") && line.contains("prefix=\"+1415\""),
        "{line}"
    );
    let range = line
        .split("range=\"")
        .nth(1)
        .expect("a range")
        .split('"')
        .next()
        .unwrap();
    assert_eq!(range.len(), 8, "{line}");
    assert!(range.bytes().all(|b| b.is_ascii_hexdigit()), "{line}");
    assert!(
        !line.contains("4155551001") && !line.contains("4155551002"),
        "{line}"
    );
}
