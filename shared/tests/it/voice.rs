//! The voice channel: a send with `"channel": "voice"` places a call through Plivo's Call API
//! whose answer URL carries the code sealed; fetched (signed) by Plivo, the answer speaks the
//! code digit by digit, twice, once; and calls take the send limits and budgets of their own.
//! Against dynalite, through the real handlers.

use crate::common::*;
use lambda_http::{Body, Response};
use otp_shared::config::{FromEnv, PlivoConfig};
use otp_shared::domain::Channel;
use otp_shared::domain::Tripped;
use otp_shared::error::OtpError;
use otp_shared::http::{plivo_callback, send_otp};
use otp_shared::service::MessageChoice;
use otp_shared::store::TTL_ATTRIBUTE;
use serde_json::json;

const VOICE: &str = "OTP_PUBLIC_BASE_URL=https://otp.example.com OTP_VOICE_ENABLED=true";

fn by_voice() -> MessageChoice {
    MessageChoice {
        channel: Channel::Voice,
        ..MessageChoice::default()
    }
}

/// Plivo's signed fetch of an answer URL for a call to `to` (digits), with the key pressed.
fn fetch(url: &str, to: &str, pressed: Option<&str>, nonce: &str) -> lambda_http::Request {
    let mut form = vec![
        ("CallUUID", "2bd4a8f6-2b2d-4d7e-9f8a-5b8f3c8b1a11"),
        ("From", "14155550100"),
        ("To", to),
        ("Direction", "outbound"),
        ("CallStatus", "in-progress"),
    ];
    if let Some(digits) = pressed {
        form.push(("Digits", digits));
    }
    callback(url, &form, v3(nonce))
}

/// Signed as Plivo signs with the account's token (V3), with `nonce`.
fn v3(nonce: &str) -> Signing<'_> {
    Signing::V3 {
        token: PLIVO_AUTH_TOKEN,
        nonce,
    }
}

/// The fetch after the caller pressed 1.
fn signed(url: &str, nonce: &str) -> lambda_http::Request {
    fetch(url, "14155551001", Some("1"), nonce)
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8(response.body().to_vec()).unwrap()
}

/// The answer URL of the newest call.
async fn answer_url(stack: &Stack) -> String {
    let calls = stack.plivo.calls().await;
    let call = calls.last().expect("a call was placed");
    assert_eq!(call["answer_method"], "POST");
    call["answer_url"].as_str().unwrap().to_owned()
}

/// The digits a Plivo XML answer speaks, each time it speaks them.
fn spoken_codes(xml: &str) -> Vec<String> {
    xml.split("<Speak")
        .filter_map(|part| part.split_once('>').map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_once("</Speak>").map(|(text, _)| text))
        .map(|text| {
            text.chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter(|digits| !digits.is_empty())
        .collect()
}

#[tokio::test]
async fn a_call_speaks_the_code_digit_by_digit_twice_and_the_code_verifies() {
    let stack = Stack::new(VOICE).await;
    let body = json!({"phoneNumber": "+14155551001", "channel": "voice", "locale": "fr"});
    let response = send_otp(&stack.sender(), event_with_body("send-otp.json", body)).await;
    assert_eq!(response.status(), 200, "{}", text(&response));
    assert!(text(&response).contains("OTP call placed"));
    assert!(stack.plivo.sent().await.is_empty(), "no SMS");
    let calls = stack.plivo.calls().await;
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["to"], "14155551001");
    assert_eq!(calls[0]["from"], "14155550100");
    let url = answer_url(&stack).await;
    assert!(url.starts_with("https://otp.example.com/plivo/callback/answer?k="));

    // Answered: first only the prompt to press 1, in the message's language, posting back to
    // the same URL; no digit of the code.
    let prompt = plivo_callback(&stack.answerer(), fetch(&url, "14155551001", None, "p")).await;
    assert_eq!(prompt.status(), 200, "{}", text(&prompt));
    let prompt = text(&prompt);
    assert!(
        prompt.contains("<GetDigits") && prompt.contains("Appuyez sur 1"),
        "{prompt}"
    );
    assert!(prompt.contains(&url.replace('&', "&amp;")), "{prompt}");
    assert!(spoken_codes(&prompt).iter().all(|d| d == "1"), "{prompt}");

    let answer = plivo_callback(&stack.answerer(), signed(&url, "n1")).await;
    assert_eq!(answer.status(), 200, "{}", text(&answer));
    assert_eq!(answer.headers()["content-type"], "application/xml");
    let xml = text(&answer);
    assert!(xml.contains("language=\"fr-FR\""), "{xml}");
    assert!(xml.contains("Votre code de vérification est"), "{xml}");
    let codes = spoken_codes(&xml);
    assert_eq!(codes.len(), 2, "{xml}");
    assert_eq!(codes[0], codes[1]);
    assert_eq!(codes[0].len(), 6);
    assert!(
        xml.contains(&format!("{}, ", &codes[0][..1])),
        "digit by digit: {xml}"
    );
    assert!(!url.contains(&codes[0]), "the code is sealed in the URL");

    let items = dynamodb_client()
        .scan()
        .table_name(&stack.table)
        .send()
        .await
        .unwrap();
    assert!(!format!("{items:?}").contains(&codes[0]), "no code at rest");
    // The call's note, which refuses a second fetch, lasts as long as the answer URL.
    let notes: Vec<_> = stack
        .items()
        .await
        .into_iter()
        .filter(|i| i["pk"].as_s().is_ok_and(|pk| pk.starts_with("seen#")))
        .collect();
    assert_eq!(notes.len(), 1);
    assert_eq!(
        notes[0][TTL_ATTRIBUTE].as_n().unwrap(),
        &(START + otp_shared::domain::ANSWER_TTL).to_string()
    );

    stack.verify(&us(1), &codes[0], &ANYONE).await.unwrap();
}

#[tokio::test]
async fn an_answer_url_speaks_once_only_while_fresh_intact_and_signed() {
    let stack = Stack::new(VOICE).await;
    stack
        .sender()
        .send_with(&us(2), &ANYONE, &by_voice())
        .await
        .unwrap();
    let url = answer_url(&stack).await;
    let answerer = stack.answerer();
    let refused = |response: &Response<Body>| {
        assert_eq!(response.status(), 403, "{}", text(response));
        assert!(!text(response).contains("Speak"));
    };
    // Tampered with: any of its parts.
    let param = |name: &str| {
        url.split(&format!("{name}="))
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let t = param("t");
    let swapped = |name: &str, value: &str| {
        url.replace(
            &format!("{name}={}", param(name)),
            &format!("{name}={value}"),
        )
    };
    let mut flipped = t.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let forged = [
        swapped("t", &String::from_utf8(flipped).unwrap()),
        swapped("c", &"0".repeat(32)),
        swapped("e", &(param("e").parse::<u64>().unwrap() + 60).to_string()),
        swapped("k", &"a".repeat(64)),
    ];
    for forged in &forged {
        refused(&plivo_callback(&answerer, fetch(forged, "14155551002", Some("1"), "f")).await);
    }
    // Unsigned, or signed with another token.
    let form = [("CallUUID", "x")];
    refused(&plivo_callback(&answerer, callback(&url, &form, Signing::None)).await);
    let other = Signing::V3 {
        token: "another-token",
        nonce: "n",
    };
    refused(&plivo_callback(&answerer, callback(&url, &form, other)).await);
    // V2 signs neither the query nor the body: any V2 pair would fetch any answer URL, so an
    // answer takes V3 alone.
    let v2 = Signing::V2 {
        token: PLIVO_AUTH_TOKEN,
        nonce: "v2",
    };
    refused(&plivo_callback(&answerer, callback(&url, &form, v2)).await);
    // For another number than the one called.
    refused(&plivo_callback(&answerer, fetch(&url, "14155551009", Some("1"), "o")).await);
    // A machine, or the hangup notice Plivo posts to the same URL: nothing said, and the
    // call's 1 is still to come.
    let machine = {
        let form = [
            ("To", "14155551002"),
            ("CallStatus", "in-progress"),
            ("Machine", "true"),
        ];
        plivo_callback(&answerer, callback(&url, &form, v3("m"))).await
    };
    assert_eq!(machine.status(), 200);
    assert!(text(&machine).contains("<Hangup/>") && !text(&machine).contains("Speak"));
    let hangup = {
        let form = [
            ("To", "14155551002"),
            ("CallStatus", "completed"),
            ("Event", "Hangup"),
        ];
        plivo_callback(&answerer, callback(&url, &form, v3("h"))).await
    };
    assert_eq!(hangup.status(), 200);
    assert!(!text(&hangup).contains("Speak"));
    // Where the callback function has no OTP_SECRET (receipts only), there is no answer.
    let receipts_only = plivo_callback(
        &stack.callbacks(),
        fetch(&url, "14155551002", Some("1"), "r"),
    )
    .await;
    assert_eq!(receipts_only.status(), 404, "{}", text(&receipts_only));
    // Prompts spend nothing; the real 1, once.
    for nonce in ["p1", "p2"] {
        let prompt = plivo_callback(&answerer, fetch(&url, "14155551002", None, nonce)).await;
        assert!(text(&prompt).contains("<GetDigits"));
    }
    let first = plivo_callback(&answerer, fetch(&url, "14155551002", Some("1"), "n1")).await;
    assert_eq!(first.status(), 200, "{}", text(&first));
    refused(&plivo_callback(&answerer, fetch(&url, "14155551002", Some("1"), "n2")).await);
    refused(
        &plivo_callback(
            &stack.answerer(),
            fetch(&url, "14155551002", Some("1"), "n3"),
        )
        .await,
    );

    // Expired: a call answered after the ticket's three minutes says nothing.
    stack.clock.advance(60);
    stack
        .sender()
        .send_with(&us(2), &ANYONE, &by_voice())
        .await
        .unwrap();
    let late = answer_url(&stack).await;
    stack.clock.advance(otp_shared::domain::ANSWER_TTL);
    let response = plivo_callback(&answerer, fetch(&late, "14155551002", Some("1"), "n4")).await;
    refused(&response);
    assert!(text(&response).contains("expired"));
}

#[tokio::test]
async fn calls_are_refused_where_voice_is_off_and_nothing_is_sent_or_stored() {
    // Off by default; and on without a public URL, the function does not start.
    let stack = Stack::new("OTP_PUBLIC_BASE_URL=https://otp.example.com").await;
    let result = stack.sender().send_with(&us(3), &ANYONE, &by_voice()).await;
    assert!(
        matches!(result, Err(OtpError::ChannelNotAllowed)),
        "{result:?}"
    );
    let body = json!({"phoneNumber": "+14155551003", "channel": "voice"});
    let response = send_otp(&stack.sender(), event_with_body("send-otp.json", body)).await;
    assert_eq!(response.status(), 400);
    assert!(text(&response).contains("channel_not_allowed"));
    let body = json!({"phoneNumber": "+14155551003", "channel": "fax"});
    let response = send_otp(&stack.sender(), event_with_body("send-otp.json", body)).await;
    assert_eq!(response.status(), 400);
    assert!(text(&response).contains("channel must be sms or voice"));
    assert!(stack.plivo.calls().await.is_empty() && stack.plivo.sent().await.is_empty());
    // Nothing stored: an SMS right after is not within a cooldown.
    stack.sender().send(&us(3), &ANYONE).await.unwrap();

    let voice = |sender: &'static str, url: Option<&'static str>| {
        PlivoConfig::from_lookup(move |k| match k {
            "OTP_VOICE_ENABLED" => Some("true".to_owned()),
            "PLIVO_AUTH_ID" => Some(PLIVO_AUTH_ID.to_owned()),
            "PLIVO_AUTH_TOKEN" => Some(PLIVO_AUTH_TOKEN.to_owned()),
            "PLIVO_SENDER_ID" => Some(sender.to_owned()),
            "OTP_PUBLIC_BASE_URL" => url.map(str::to_owned),
            _ => None,
        })
    };
    let no_url = voice(SENDER, None);
    assert_eq!(no_url.unwrap_err().var, "OTP_VOICE_ENABLED");
    let no_caller = voice("Example", Some("https://otp.example.com"));
    assert_eq!(no_caller.unwrap_err().var, "OTP_VOICE_ENABLED");
}

#[tokio::test]
async fn landlines_take_calls_but_not_texts() {
    let stack = Stack::new(VOICE).await;
    let landline = phone("+442079460018");
    let sms = stack.sender().send(&landline, &ANYONE).await;
    assert!(
        matches!(sms, Err(OtpError::NumberTypeNotAllowed)),
        "{sms:?}"
    );
    stack
        .sender()
        .send_with(&landline, &ANYONE, &by_voice())
        .await
        .unwrap();
    let premium = phone("+19005550123");
    let call = stack
        .sender()
        .send_with(&premium, &ANYONE, &by_voice())
        .await;
    assert!(
        matches!(call, Err(OtpError::NumberTypeNotAllowed)),
        "{call:?}"
    );
    let stack = Stack::new(&format!("{VOICE} OTP_VOICE_ALLOWED_NUMBER_TYPES=mobile")).await;
    let call = stack
        .sender()
        .send_with(&landline, &ANYONE, &by_voice())
        .await;
    assert!(
        matches!(call, Err(OtpError::NumberTypeNotAllowed)),
        "{call:?}"
    );
}

#[tokio::test]
async fn calls_take_the_send_limits_and_budgets_of_their_own() {
    let stack = Stack::new(&format!(
        "{VOICE} OTP_MAX_CALLS_PER_NUMBER_PER_HOUR=1 OTP_MAX_CALLS_PER_HOUR=3 OTP_ALLOWED_COUNTRIES=US"
    ))
    .await;
    let sender = stack.sender();
    // The per-number cooldown holds across channels.
    sender.send(&us(4), &ANYONE).await.unwrap();
    let call = sender.send_with(&us(4), &ANYONE, &by_voice()).await;
    assert_rate_limited(call, 30);
    stack.clock.advance(60);
    sender
        .send_with(&us(4), &ANYONE, &by_voice())
        .await
        .unwrap();
    // One call per number per hour; texts are not counted against it.
    stack.clock.advance(60);
    let again = sender.send_with(&us(4), &ANYONE, &by_voice()).await;
    assert!(
        matches!(
            again,
            Err(OtpError::RateLimited {
                limit: Tripped::CallsPerNumber,
                ..
            })
        ),
        "{again:?}"
    );
    sender.send(&us(4), &ANYONE).await.unwrap();
    // The allow-list holds for calls.
    let abroad = sender
        .send_with(&phone("+447400123456"), &ANYONE, &by_voice())
        .await;
    assert!(
        matches!(abroad, Err(OtpError::CountryNotAllowed)),
        "{abroad:?}"
    );
    // The deployment's calls per hour, under real concurrency: 12 instances released
    // together, each calling its own number, with 2 calls left in the hour's budget.
    let mut tasks = Vec::new();
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(12));
    for n in 0..12 {
        let sender = stack.patient_sender();
        let start = start.clone();
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            sender.send_with(&us(100 + n), &ANYONE, &by_voice()).await
        }));
    }
    let mut placed = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => placed += 1,
            Err(OtpError::RateLimited {
                limit: Tripped::CallsPerHour,
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(placed, 2, "3 calls per hour, 1 placed before");
    assert_eq!(stack.plivo.calls().await.len(), 3);
}

#[tokio::test]
async fn a_call_plivo_refuses_gives_502_and_the_replaced_code_back() {
    use wiremock::matchers::{method, path};
    let plivo = Plivo::accepting().await;
    wiremock::Mock::given(method("POST"))
        .and(path(call_path()))
        .respond_with(plivo_error(400, "invalid to"))
        .with_priority(1)
        .mount(&plivo.server)
        .await;
    let stack = Stack::with_plivo(plivo, VOICE).await;
    let code = stack.send(&us(5), &ANYONE).await;
    stack.clock.advance(60);
    let body = json!({"phoneNumber": "+14155551005", "channel": "voice"});
    let response = send_otp(&stack.sender(), event_with_body("send-otp.json", body)).await;
    assert_eq!(response.status(), 502, "{}", text(&response));
    assert!(text(&response).contains("call_failed"));
    stack.verify(&us(5), &code, &ANYONE).await.unwrap();
}

/// The sample answer request in `events/`, signed as the local stack's Plivo sandbox signs
/// (its token, the stack's default address) and sealed with the tests' secret at the tests'
/// clock: it speaks its code once, then nothing.
#[tokio::test]
async fn the_sample_answer_event_speaks_its_code_once() {
    let stack =
        Stack::new("OTP_PUBLIC_BASE_URL=http://127.0.0.1:3000 OTP_VOICE_ENABLED=true").await;
    let answerer = stack.answerer_signed_with("local-sandbox-token");
    let first = plivo_callback(&answerer, event("plivo-answer-callback.json")).await;
    assert_eq!(first.status(), 200, "{}", text(&first));
    assert_eq!(spoken_codes(&text(&first)), ["123456", "123456"]);
    let again = plivo_callback(&answerer, event("plivo-answer-callback.json")).await;
    assert_eq!(again.status(), 403);
}

/// A call Plivo answers with a server error may ring anyway: it is not placed again (a second
/// call would ring and bill twice); the send fails with 502 and its code is withdrawn.
#[tokio::test]
async fn a_call_answered_with_a_server_error_is_not_placed_again() {
    use wiremock::matchers::{method, path};
    let plivo = Plivo::accepting().await;
    wiremock::Mock::given(method("POST"))
        .and(path(call_path()))
        .respond_with(plivo_error(500, "internal error"))
        .with_priority(1)
        .mount(&plivo.server)
        .await;
    let stack = Stack::with_plivo(plivo, VOICE).await;
    let result = stack.sender().send_with(&us(6), &ANYONE, &by_voice()).await;
    assert!(matches!(result, Err(OtpError::CallFailed(_))), "{result:?}");
    assert_eq!(stack.plivo.calls().await.len(), 1, "placed once");
}
