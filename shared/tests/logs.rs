//! What the functions log, captured through the service's own logging setup at the most
//! verbose level: never a code, the Plivo token, OTP_SECRET or a full phone number.

mod common;

use base64::Engine;
use common::*;
use otp_shared::http::{send_otp, verify_otp};
use otp_shared::lambda_http::{Body, request};
use otp_shared::telemetry;

fn req(path: &str, body: &str) -> otp_shared::lambda_http::Request {
    let name = if path.contains("verify") {
        "verify-otp.json"
    } else {
        "send-otp.json"
    };
    let text = std::fs::read_to_string(repo_root().join("events").join(name)).unwrap();
    let mut r = request::from_str(&text).unwrap();
    *r.body_mut() = Body::Text(body.to_owned());
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_contain_codes_secrets_or_full_numbers() {
    // This binary holds this one test, so setting the environment here races with nothing.
    unsafe {
        std::env::set_var("AWS_LAMBDA_LOG_FORMAT", "JSON");
        std::env::set_var("RUST_LOG", "trace");
    }
    let logs = LogBuffer::default();
    telemetry::init_with_writer(logs.clone());

    let stack = Stack::new(&[("OTP_MAX_ATTEMPTS", "2")]).await;
    let sender = stack.sender();
    let verifier = stack.verifier();
    let phone = r#"{"phoneNumber":"+1 (415) 555-2671"}"#;

    assert_eq!(send_otp(&sender, req("send", phone)).await.status(), 200);
    let code = stack.plivo.last_code().await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let verify = |otp: &str| format!(r#"{{"phoneNumber":"+14155552671","otp":"{otp}"}}"#);
    assert_eq!(
        verify_otp(&verifier, req("verify", &verify(wrong)))
            .await
            .status(),
        401
    );
    assert_eq!(
        verify_otp(&verifier, req("verify", &verify(&code)))
            .await
            .status(),
        200
    );
    assert_eq!(send_otp(&sender, req("send", phone)).await.status(), 429);
    assert_eq!(
        verify_otp(&verifier, req("verify", &verify("12345x")))
            .await
            .status(),
        400
    );

    let failing = Stack::with_plivo(Plivo::failing(500).await, &[]).await;
    assert_eq!(
        send_otp(&failing.sender(), req("send", phone))
            .await
            .status(),
        502
    );
    let failed_code = code_in(failing.plivo.sent().await[0]["text"].as_str().unwrap());

    // A tripped range limit is logged with the range, never the number.
    let ranged = Stack::new(&[
        ("OTP_MAX_SENDS_PER_PREFIX_PER_HOUR", "1"),
        ("OTP_PREFIX_DIGITS", "3"),
    ])
    .await;
    let ranged_sender = ranged.sender();
    for number in ["+14155552671", "+14155552672"] {
        let body = format!(r#"{{"phoneNumber":"{number}"}}"#);
        let _ = send_otp(&ranged_sender, req("send", &body)).await;
    }

    let text = logs.text();
    assert!(
        text.lines()
            .any(|l| l.contains("send limit reached") && l.contains(r#""prefix":"+1415""#)),
        "the range limit trip is logged with its prefix"
    );
    if std::env::var("SHOW_LOGS").is_ok() {
        eprintln!("{text}");
    }
    assert!(
        text.contains("+1415*****71"),
        "requests are logged with the masked number"
    );
    assert!(
        text.lines().all(|l| l.starts_with('{')),
        "JSON lines expected"
    );
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{PLIVO_AUTH_ID}:{PLIVO_AUTH_TOKEN}"));
    for secret in [
        code.as_str(),
        failed_code.as_str(),
        "+14155552671",
        "14155552671",
        "4155552671",
        "4155552672",
        PLIVO_AUTH_TOKEN,
        basic.as_str(),
        SECRET,
    ] {
        assert!(!text.contains(secret), "log contains {secret:?}");
    }
}
