//! The HTTP handlers driven by the sample API Gateway events in `events/`, so the events stay
//! valid. Bad input must get a 400 and change nothing.

use crate::common::*;
use base64::Engine;
use lambda_http::http::Method;
use lambda_http::{Body, Request, Response, request};
use otp_shared::http::{send_otp, verify_otp};
use serde_json::Value;

/// The event `name` with its JSON body's `otp` set to `otp` (kept base64 when it was).
fn event_with_otp(name: &str, otp: &str) -> Request {
    let mut ev: Value = serde_json::from_str(&event_text(name)).unwrap();
    let b64 = ev["isBase64Encoded"].as_bool().unwrap_or(false);
    let engine = base64::engine::general_purpose::STANDARD;
    let raw = ev["body"].as_str().unwrap().to_owned();
    let raw = if b64 {
        String::from_utf8(engine.decode(raw).unwrap()).unwrap()
    } else {
        raw
    };
    let mut body: Value = serde_json::from_str(&raw).unwrap();
    body["otp"] = otp.into();
    let text = body.to_string();
    ev["body"] = if b64 {
        engine.encode(text).into()
    } else {
        text.into()
    };
    request::from_str(&ev.to_string()).unwrap()
}

fn json(response: &Response<Body>) -> Value {
    assert_eq!(response.headers()["content-type"], "application/json");
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn assert_error(response: &Response<Body>, status: u16, code: &str) {
    let body = json(response);
    assert_eq!(response.status().as_u16(), status, "{body}");
    assert_eq!(body["statusCode"], status);
    assert_eq!(body["code"], code, "{body}");
    assert!(body["error"].is_string() && body["message"].is_string());
}

fn assert_says_none_of(response: &Response<Body>, words: &[&str]) {
    let text = body_text(response);
    for word in words {
        assert!(!text.contains(word), "{word} in {text}");
    }
}

#[tokio::test]
async fn send_event_from_an_http_api_gets_200_and_one_sms() {
    let stack = Stack::new("").await;
    let response = send_otp(&stack.sender(), event("send-otp.json")).await;
    assert_eq!(response.status(), 200);
    let body = json(&response);
    assert_eq!(body["success"], true);
    assert_eq!(body["expiresIn"], 300);
    assert!(body["message"].is_string());
    assert_eq!(response.headers()["cache-control"], "no-store");
    let sent = stack.plivo.sent().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["dst"], "+14155552671");
}

/// Every shape of event API Gateway sends (HTTP API and REST API, plain and base64 bodies, a
/// formatted number): each send reaches the number, each verify accepts the code once.
#[tokio::test]
async fn every_sample_event_sends_or_verifies() {
    let pairs = [
        ("send-otp-rest.json", "verify-otp.json"),
        ("send-otp-base64.json", "verify-otp-rest.json"),
        (
            "send-otp-formatted-phone.json",
            "verify-otp-rest-base64.json",
        ),
    ];
    for (send, verify) in pairs {
        let stack = Stack::new("").await;
        let response = send_otp(&stack.sender(), event(send)).await;
        assert_eq!(response.status(), 200, "{send}: {:?}", response.body());
        assert_eq!(stack.plivo.sent().await[0]["dst"], "+14155552671", "{send}");
        let code = stack.plivo.last_code().await;
        let response = verify_otp(&stack.verifier(), event_with_otp(verify, &code)).await;
        assert_eq!(response.status(), 200, "{verify}");
        assert_eq!(json(&response)["success"], true);
        // The same code a second time is refused.
        let again = verify_otp(&stack.verifier(), event_with_otp(verify, &code)).await;
        assert_error(&again, 401, "invalid_otp");
    }
}

#[tokio::test]
async fn the_sample_verify_event_without_a_pending_code_gets_401() {
    let stack = Stack::new("").await;
    let response = verify_otp(&stack.verifier(), event("verify-otp.json")).await;
    assert_error(&response, 401, "invalid_otp");
}

#[tokio::test]
async fn bad_send_input_gets_400_and_sends_and_stores_nothing() {
    let stack = Stack::new("").await;
    let sender = stack.sender();
    for name in ["send-otp-bad-phone.json", "send-otp-malformed.json"] {
        let response = send_otp(&sender, event(name)).await;
        assert_error(&response, 400, "invalid_request");
    }
    let mut get = event("send-otp.json");
    *get.method_mut() = Method::GET;
    assert_error(&send_otp(&sender, get).await, 400, "invalid_request");

    for body in [
        "[]",
        "null",
        r#"{"phone":"+14155552671"}"#,
        r#"{"phoneNumber":14155552671}"#,
        r#"{"phoneNumber":"+1415555267"}"#,
        r#"{"phoneNumber":"+999 123"}"#,
    ] {
        let mut req = event("send-otp.json");
        *req.body_mut() = Body::Text(body.into());
        let response = send_otp(&sender, req).await;
        assert_error(&response, 400, "invalid_request");
    }
    let mut big = event("send-otp.json");
    let padding = "x".repeat(9 * 1024);
    *big.body_mut() = Body::Text(format!(
        r#"{{"phoneNumber":"+14155552671","pad":"{padding}"}}"#
    ));
    assert_error(&send_otp(&sender, big).await, 400, "invalid_request");

    assert!(stack.plivo.sent().await.is_empty());
    assert!(stack.items().await.is_empty());
}

#[tokio::test]
async fn bad_verify_input_gets_400_and_counts_no_attempt() {
    let stack = Stack::new("OTP_MAX_ATTEMPTS=1").await;
    send_otp(&stack.sender(), event("send-otp.json")).await;
    let code = stack.plivo.last_code().await;
    let verifier = stack.verifier();
    for name in [
        "verify-otp-wrong-length.json",
        "verify-otp-missing-otp.json",
    ] {
        assert_error(
            &verify_otp(&verifier, event(name)).await,
            400,
            "invalid_request",
        );
    }
    for otp in ["12345a", " 123456", "1234567", "", "１２３４５６"] {
        let response = verify_otp(&verifier, event_with_otp("verify-otp.json", otp)).await;
        assert_error(&response, 400, "invalid_request");
    }
    let items = stack.phone_items().await;
    assert_eq!(items[0]["attempts"].as_n().unwrap(), "0");
    // With a single attempt allowed, the code still works: nothing above was counted.
    let response = verify_otp(&verifier, event_with_otp("verify-otp.json", &code)).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn error_messages_never_repeat_the_input() {
    let stack = Stack::new("").await;
    let mut req = event("verify-otp.json");
    *req.body_mut() = Body::Text(r#"{"phoneNumber":"+14155552671","otp":"98765x"}"#.into());
    let response = verify_otp(&stack.verifier(), req).await;
    assert_says_none_of(&response, &["98765", "4155552671"]);
}

#[tokio::test]
async fn rate_limited_and_exhausted_responses_carry_retry_after() {
    let stack = Stack::new("OTP_MAX_ATTEMPTS=1").await;
    let sender = stack.sender();
    assert_eq!(
        send_otp(&sender, event("send-otp.json")).await.status(),
        200
    );
    stack.clock.advance(5);
    let limited = send_otp(&sender, event("send-otp.json")).await;
    assert_error(&limited, 429, "rate_limited");
    assert_eq!(limited.headers()["retry-after"], "25");

    let code = stack.plivo.last_code().await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let burned = verify_otp(&stack.verifier(), event_with_otp("verify-otp.json", wrong)).await;
    assert_error(&burned, 429, "too_many_attempts");
    // The code's attempts are spent: a new code may be asked for within the resend cooldown
    // (an upper bound that does not tell when the code was sent).
    assert_eq!(burned.headers()["retry-after"], "30");
}

#[tokio::test]
async fn plivo_failure_gets_502_without_internal_detail() {
    let stack = Stack::with_plivo(Plivo::failing(401).await, "").await;
    let response = send_otp(&stack.sender(), event("send-otp.json")).await;
    assert_error(&response, 502, "sms_failed");
    assert_says_none_of(&response, &["simulated", "401"]);
}

#[tokio::test]
async fn the_per_ip_limit_counts_the_gateways_source_ip_not_forwarded_for_headers() {
    let stack = Stack::new("OTP_MAX_SENDS_PER_IP_PER_HOUR=2").await;
    let sender = stack.sender();
    let numbers = ["+14155551001", "+14155551002", "+14155551003"];
    let mut statuses = Vec::new();
    for (i, number) in numbers.iter().enumerate() {
        let mut req = event("send-otp.json");
        *req.body_mut() = Body::Text(format!(r#"{{"phoneNumber":"{number}"}}"#));
        // A client rotating X-Forwarded-For gains nothing: API Gateway's sourceIp counts.
        req.headers_mut()
            .insert("x-forwarded-for", format!("203.0.113.{i}").parse().unwrap());
        statuses.push(send_otp(&sender, req).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429]);
}

/// A send from the backend signed in with IAM (`events/send-otp-iam.json`, whose source IP
/// is the backend's), naming its end user's address when `client_ip` is given.
fn backend_send(number: &str, client_ip: Option<&str>) -> Request {
    let mut body = serde_json::json!({ "phoneNumber": number });
    if let Some(ip) = client_ip {
        body["clientIp"] = ip.into();
    }
    event_with_body("send-otp-iam.json", body)
}

/// A verify from the same backend.
fn backend_verify(number: &str, otp: &str, client_ip: &str) -> Request {
    let body = serde_json::json!({ "phoneNumber": number, "otp": otp, "clientIp": client_ip });
    event_with_body("send-otp-iam.json", body)
}

#[tokio::test]
async fn the_sample_iam_event_sends_to_its_number() {
    let stack = Stack::new("").await;
    let response = send_otp(&stack.sender(), event("send-otp-iam.json")).await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    assert_eq!(stack.plivo.sent().await[0]["dst"], "+14155552672");
}

/// Backend mode: every request comes from the backend's one address; the per-IP limits count
/// the end user's address the backend names, and never the backend's own.
#[tokio::test]
async fn an_iam_caller_names_its_end_users_address_for_the_per_ip_limits() {
    let stack =
        Stack::new("OTP_MAX_SENDS_PER_IP_PER_HOUR=1 OTP_MAX_FAILURES_PER_IP_PER_HOUR=1").await;
    let (sender, verifier) = (stack.sender(), stack.verifier());
    let send = |number: &'static str, ip| send_otp(&sender, backend_send(number, Some(ip)));
    assert_eq!(send("+14155551001", "203.0.113.7").await.status(), 200);
    assert_error(
        &send("+14155551002", "203.0.113.7").await,
        429,
        "rate_limited",
    );
    assert_eq!(send("+14155551003", "2001:db8:7::1").await.status(), 200);
    // The backend's own address (the events' source IP) was never counted.
    let mut direct: Value = serde_json::from_str(&event_text("send-otp-iam.json")).unwrap();
    direct["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    direct["body"] = r#"{"phoneNumber":"+14155551004"}"#.into();
    let direct = request::from_str(&direct.to_string()).unwrap();
    assert_eq!(send_otp(&sender, direct).await.status(), 200);

    // One wrong code per address and hour: the second from the same user is refused, another
    // user's is still compared.
    let guess =
        |number: &'static str, ip| verify_otp(&verifier, backend_verify(number, "000000", ip));
    let first = guess("+14155551001", "198.51.100.99").await;
    assert!(matches!(first.status().as_u16(), 200 | 401), "{first:?}");
    assert_error(
        &guess("+14155551003", "198.51.100.99").await,
        429,
        "too_many_attempts",
    );
    assert_error(
        &guess("+14155551003", "198.51.100.98").await,
        401,
        "invalid_otp",
    );
}

#[tokio::test]
async fn an_iam_caller_without_client_ip_skips_the_per_ip_limits() {
    let stack = Stack::new("OTP_MAX_SENDS_PER_IP_PER_HOUR=1").await;
    let sender = stack.sender();
    for number in ["+14155551001", "+14155551002", "+14155551003"] {
        let response = send_otp(&sender, backend_send(number, None)).await;
        assert_eq!(response.status(), 200, "{number}");
    }
}

/// A `clientIp` is trusted only when API Gateway says IAM signed the request: from anyone
/// else it is refused, so a deployment that lost its IAM setting fails loudly.
#[tokio::test]
async fn client_ip_from_an_unauthenticated_caller_gets_400_and_changes_nothing() {
    let stack = Stack::new("").await;
    let response = send_otp(
        &stack.sender(),
        event("send-otp-client-ip-unauthenticated.json"),
    )
    .await;
    assert_error(&response, 400, "invalid_request");
    assert!(
        json(&response)["message"]
            .as_str()
            .unwrap()
            .contains("clientIp")
    );

    let code = stack.send(&phone("+14155552671"), &ANYONE).await;
    let body =
        serde_json::json!({"phoneNumber": "+14155552671", "otp": code, "clientIp": "203.0.113.7"});
    let response = verify_otp(&stack.verifier(), event_with_body("verify-otp.json", body)).await;
    assert_error(&response, 400, "invalid_request");
    assert_eq!(stack.plivo.sent().await.len(), 1);
    let items = stack.phone_items().await;
    assert_eq!(items[0]["attempts"].as_n().unwrap(), "0");
}

#[tokio::test]
async fn a_malformed_client_ip_gets_400_and_changes_nothing() {
    let stack = Stack::new("").await;
    let sender = stack.sender();
    for bad in [
        serde_json::json!("not-an-ip"),
        serde_json::json!("203.0.113.7/24"),
        serde_json::json!("203.0.113.7, 198.51.100.1"),
        serde_json::json!(""),
        serde_json::json!(2130706433),
        serde_json::Value::Null,
    ] {
        let body = serde_json::json!({ "phoneNumber": "+14155552671", "clientIp": bad });
        let response = send_otp(&sender, event_with_body("send-otp-iam.json", body)).await;
        assert_error(&response, 400, "invalid_request");
    }
    assert!(stack.plivo.sent().await.is_empty());
    assert!(stack.items().await.is_empty());
}

/// Backends on dual-stack listeners (Node, Java) report IPv4 users as IPv4-mapped IPv6
/// (`::ffff:203.0.113.7`), IPv6-only sites behind NAT64 as `64:ff9b::203.0.113.7` (RFC 6052):
/// each must count as its own IPv4 address, not all as one IPv6 block.
#[tokio::test]
async fn ipv4_mapped_and_nat64_client_ips_count_as_their_ipv4_address() {
    let stack = Stack::new("OTP_MAX_SENDS_PER_IP_PER_HOUR=1").await;
    let sender = stack.sender();
    let send = |number: &'static str, ip| send_otp(&sender, backend_send(number, Some(ip)));
    for (number, ip, status) in [
        ("+14155551001", "::ffff:203.0.113.7", 200),
        ("+14155551002", "::ffff:198.51.100.9", 200),
        ("+14155551003", "203.0.113.7", 429),
        ("+14155551004", "::FFFF:198.51.100.9", 429),
        ("+14155551005", "64:ff9b::192.0.2.44", 200),
        ("+14155551006", "64:ff9b::192.0.2.45", 200),
        ("+14155551007", "192.0.2.44", 429),
    ] {
        assert_eq!(send(number, ip).await.status(), status, "{ip}");
    }
}

#[tokio::test]
async fn a_client_ip_that_names_no_client_gets_400() {
    let stack = Stack::new("").await;
    let sender = stack.sender();
    for ip in [
        "0.0.0.0",
        "::",
        "::ffff:0.0.0.0",
        "224.0.0.1",
        "ff02::1",
        "255.255.255.255",
        // What a backend reads off its own proxy: every user would share its budget.
        "127.0.0.1",
        "::1",
        "fe80::1",
        "169.254.169.254",
    ] {
        let response = send_otp(&sender, backend_send("+14155551001", Some(ip))).await;
        assert_error(&response, 400, "invalid_request");
    }
    assert!(stack.plivo.sent().await.is_empty());
}

/// A backend that misspells `clientIp` must hear about it, not lose every per-IP limit.
#[tokio::test]
async fn a_misspelt_client_ip_gets_400() {
    let stack = Stack::new("").await;
    let sender = stack.sender();
    for name in ["clientIP", "client_ip", "ClientIp", "client-ip"] {
        let body = serde_json::json!({ "phoneNumber": "+14155551001", name: "203.0.113.7" });
        let response = send_otp(&sender, event_with_body("send-otp-iam.json", body)).await;
        let message = json(&response)["message"].to_string();
        assert_error(&response, 400, "invalid_request");
        assert!(message.contains("clientIp"), "{message}");
    }
    assert!(stack.plivo.sent().await.is_empty());
}

/// The text of the last message Plivo was asked to send.
async fn last_text(stack: &Stack) -> String {
    let sent = stack.plivo.sent().await;
    sent.last().unwrap()["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn the_message_is_in_the_callers_language_else_the_destinations() {
    let stack = Stack::new("").await;
    let sender = stack.sender();
    let response = send_otp(&sender, event("send-otp-locale.json")).await;
    assert_eq!(response.status(), 200);
    assert!(
        last_text(&stack).await.starts_with("Seu código: "),
        "{}",
        last_text(&stack).await
    );
    let cases = [
        (
            serde_json::json!({"phoneNumber": "+5511987654321"}),
            "Seu código: ",
        ),
        (
            serde_json::json!({"phoneNumber": "+819012345678"}),
            "認証コード：",
        ),
        (
            serde_json::json!({"phoneNumber": "+33612345678", "locale": "de-AT"}),
            "Ihr Bestätigungscode",
        ),
        // A well-formed tag without a text falls back to the destination's language.
        (
            serde_json::json!({"phoneNumber": "+491711234567", "locale": "gsw"}),
            "Ihr Bestätigungscode",
        ),
        (
            serde_json::json!({"phoneNumber": "+14155550199", "locale": null}),
            "Your verification code",
        ),
    ];
    for (body, start) in cases {
        let response = send_otp(&sender, event_with_body("send-otp.json", body.clone())).await;
        assert_eq!(response.status(), 200, "{body}");
        let text = last_text(&stack).await;
        assert!(text.starts_with(start), "{body}: {text}");
    }
}

#[tokio::test]
async fn a_bad_locale_or_app_hash_gets_400_and_changes_nothing() {
    let stack = Stack::new("OTP_ANDROID_APP_HASH=FA+9qCX9VSu").await;
    let sender = stack.sender();
    let mut requests = vec![
        event("send-otp-bad-locale.json"),
        event("send-otp-bad-app-hash.json"),
    ];
    for body in [
        serde_json::json!({"phoneNumber": "+14155552671", "locale": 7}),
        serde_json::json!({"phoneNumber": "+14155552671", "locale": "x".repeat(36)}),
        serde_json::json!({"phoneNumber": "+14155552671", "locale": "en_US"}),
        serde_json::json!({"phoneNumber": "+14155552671", "appHash": ["FA+9qCX9VSu"]}),
    ] {
        requests.push(event_with_body("send-otp.json", body));
    }
    for req in requests {
        let response = send_otp(&sender, req).await;
        assert_error(&response, 400, "invalid_request");
        assert_says_none_of(&response, &["FA+9qCX9VSu", "NotConfigur"]);
    }
    assert!(stack.plivo.sent().await.is_empty());
    assert!(stack.items().await.is_empty(), "nothing stored or counted");
}

#[tokio::test]
async fn brand_webotp_and_app_hash_shape_the_message() {
    // With all three, the languages whose full text would take a second segment go out in
    // their compact form (config/tests.rs), so the function starts without multipart.
    let stack = Stack::new(
        "OTP_BRAND=Example OTP_WEBOTP_DOMAIN=example.com \
         OTP_ANDROID_APP_HASH=FA+9qCX9VSu,AbCdEfGhIj/",
    )
    .await;
    let sender = stack.sender();
    let body = serde_json::json!({"phoneNumber": "+14155552671", "appHash": "AbCdEfGhIj/"});
    assert_eq!(
        send_otp(&sender, event_with_body("send-otp.json", body))
            .await
            .status(),
        200
    );
    let text = last_text(&stack).await;
    let code = stack.plivo.last_code().await;
    assert_eq!(
        text,
        format!(
            "Example: Your verification code is {code}. It expires in 5 minutes.\n\nAbCdEfGhIj/\n@example.com #{code}"
        )
    );
    // The sample event names the other configured hash, for another number.
    let response = send_otp(&sender, event("send-otp-app-hash.json")).await;
    assert_eq!(response.status(), 200);
    assert!(
        last_text(&stack)
            .await
            .contains("\n\nFA+9qCX9VSu\n@example.com #")
    );
    // Russian's full text does not fit this shape in one UCS-2 segment: its compact one goes.
    let body = serde_json::json!({"phoneNumber": "+33612345678", "locale": "ru"});
    let response = send_otp(&sender, event_with_body("send-otp.json", body)).await;
    assert_eq!(response.status(), 200);
    let code = stack.plivo.last_code().await;
    assert_eq!(
        last_text(&stack).await,
        format!("Example: Код {code}, 5 мин.\n\nFA+9qCX9VSu\n@example.com #{code}")
    );
}

/// The code's length is the deployment's: with `OTP_DIGITS=8`, an 8-digit code verifies and a
/// 6-digit one is refused as malformed, before the store is asked.
#[tokio::test]
async fn verify_reads_codes_of_the_configured_length() {
    let stack = Stack::new("OTP_DIGITS=8").await;
    let body = serde_json::json!({"phoneNumber": "+14155552671"});
    let response = send_otp(&stack.sender(), event_with_body("send-otp.json", body)).await;
    assert_eq!(response.status(), 200);
    let code = stack.plivo.last_code().await;
    assert_eq!(code.len(), 8);
    let verifier = stack.verifier();
    let short = serde_json::json!({"phoneNumber": "+14155552671", "otp": "123456"});
    let response = verify_otp(&verifier, event_with_body("verify-otp.json", short)).await;
    assert_error(&response, 400, "invalid_request");
    let right = serde_json::json!({"phoneNumber": "+14155552671", "otp": code});
    let response = verify_otp(&verifier, event_with_body("verify-otp.json", right)).await;
    assert_eq!(response.status(), 200);
}

/// A sample event with the sample id replaced by `id` (in its path, route parameters and
/// body).
fn event_for_id(name: &str, id: &str) -> Request {
    let text = event_text(name).replace("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", id);
    request::from_str(&text).unwrap()
}

/// The id a send answers reads, verifies and cancels its verification over HTTP, in the
/// documented shapes; the sample events with an id never issued answer 404 and 401.
#[tokio::test]
async fn a_verification_is_read_verified_and_cancelled_by_the_id_the_send_answered() {
    let stack = Stack::new("").await;
    let verifier = stack.verifier();
    let sent = send_otp(&stack.sender(), event("send-otp.json")).await;
    let id = json(&sent)["verificationId"].as_str().unwrap().to_owned();
    let code = stack.plivo.last_code().await;
    let status = verify_otp(&verifier, event_for_id("verification-status.json", &id)).await;
    assert_eq!(status.status(), 200);
    assert_eq!(
        json(&status),
        serde_json::json!({
            "verificationId": id,
            "status": "pending",
            "channel": "sms",
            "attemptsLeft": 5,
            "expiresIn": 300,
            "to": "+1415*****71",
        })
    );
    let mut by_id = event_for_id("verify-otp-by-id.json", &id);
    *by_id.body_mut() = Body::Text(format!(r#"{{"verificationId":"{id}","otp":"{code}"}}"#));
    let verified = verify_otp(&verifier, by_id).await;
    assert_eq!(verified.status(), 200);
    assert_eq!(json(&verified)["success"], true);
    let cancelled = verify_otp(&verifier, event_for_id("verification-cancel.json", &id)).await;
    assert_eq!(cancelled.status(), 200);
    let body = json(&cancelled);
    assert_eq!(
        (&body["status"], &body["attemptsLeft"]),
        (&"approved".into(), &0.into())
    );
    assert!(body.get("expiresIn").is_none(), "{body}");

    // A second send; cancelled, its code no longer verifies.
    stack.clock.advance(30);
    let sent = send_otp(&stack.sender(), event("send-otp.json")).await;
    let id = json(&sent)["verificationId"].as_str().unwrap().to_owned();
    let cancelled = verify_otp(&verifier, event_for_id("verification-cancel.json", &id)).await;
    assert_eq!(json(&cancelled)["status"], "canceled");
    let code = stack.plivo.last_code().await;
    let r = verify_otp(&verifier, event_with_otp("verify-otp.json", &code)).await;
    assert_error(&r, 401, "invalid_otp");

    for name in ["verification-status.json", "verification-cancel.json"] {
        assert_error(&verify_otp(&verifier, event(name)).await, 404, "not_found");
    }
    assert_error(
        &verify_otp(&verifier, event("verify-otp-by-id.json")).await,
        401,
        "invalid_otp",
    );
    let malformed = event_for_id("verification-status.json", "not-an-id");
    assert_error(
        &verify_otp(&verifier, malformed).await,
        400,
        "invalid_request",
    );
    let mut bad_body = event("verify-otp-by-id.json");
    *bad_body.body_mut() = Body::Text(r#"{"verificationId":"short","otp":"123456"}"#.into());
    let r = verify_otp(&verifier, bad_body).await;
    assert_error(&r, 400, "invalid_request");
    assert!(
        json(&r)["message"]
            .as_str()
            .unwrap()
            .starts_with("verificationId must be")
    );
}
