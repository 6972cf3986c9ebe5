//! What the functions log, captured through the service's own logging setup at the most
//! verbose level: never a code, the Plivo token, OTP_SECRET or a full phone number.

// The harness the integration tests share; this binary uses part of it.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;

use base64::Engine;
use common::*;
use lambda_http::{Body, request};
use otp_shared::config::{FromEnv, OtpConfig};
use otp_shared::http::{send_otp, verify_otp};
use otp_shared::telemetry;

/// A valid number (a Niue landline) with a short national number: 4 digits.
const SHORT: &str = "+6837123";

fn req(path: &str, body: &str) -> lambda_http::Request {
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

    let stack = Stack::new("OTP_MAX_ATTEMPTS=2").await;
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

    let failing = Stack::with_plivo(Plivo::failing(500).await, "").await;
    assert_eq!(
        send_otp(&failing.sender(), req("send", phone))
            .await
            .status(),
        502
    );
    let failed_code = code_in(failing.plivo.sent().await[0]["text"].as_str().unwrap());

    // A tripped range limit is logged with the range, never the number.
    let ranged = Stack::new("OTP_MAX_SENDS_PER_PREFIX_PER_HOUR=1 OTP_PREFIX_DIGITS=3").await;
    let ranged_sender = ranged.sender();
    for number in ["+14155552671", "+14155552672"] {
        let body = format!(r#"{{"phoneNumber":"{number}"}}"#);
        let _ = send_otp(&ranged_sender, req("send", &body)).await;
    }

    // Plivo's error text may quote the number, here where the 500-character cut splits it.
    let quoting = wiremock::MockServer::start().await;
    let error = format!("{}+14155552671 is not a valid destination", "x".repeat(489));
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(plivo_error(400, &error))
        .mount(&quoting)
        .await;
    let quoted = Stack::with_plivo(Plivo { server: quoting }, "").await;
    assert_eq!(
        send_otp(&quoted.sender(), req("send", phone))
            .await
            .status(),
        502
    );

    // The same at the longest range the configuration allows: the logs of the request must
    // not rebuild more of the number than the mask shows.
    let longest = (1..=15)
        .rev()
        .find(|n| {
            let n = n.to_string();
            OtpConfig::from_lookup(|k| match k {
                "OTP_TABLE_NAME" => Some("t".to_owned()),
                "OTP_SECRET" => Some(SECRET.to_owned()),
                "OTP_ALLOWED_COUNTRIES" => Some("*".to_owned()),
                "OTP_PREFIX_DIGITS" => Some(n.clone()),
                _ => None,
            })
            .is_ok()
        })
        .unwrap();
    let widest = Stack::new(&format!(
        "OTP_MAX_SENDS_PER_PREFIX_PER_HOUR=1 OTP_PREFIX_DIGITS={longest} \
         OTP_ALLOWED_NUMBER_TYPES=mobile,fixed_line_or_mobile,fixed_line"
    ))
    .await;
    let before = logs.text().len();
    let widest_sender = widest.sender();
    // Twice each: the second send trips the range limit. Niue's numbers have 4 digits.
    for number in ["+14155552673", "+14155552673", SHORT, SHORT] {
        let body = format!(r#"{{"phoneNumber":"{number}"}}"#);
        let _ = send_otp(&widest_sender, req("send", &body)).await;
    }
    let widest_logs = logs.text()[before..].to_owned();
    for number in ["+14155552673", SHORT] {
        let shown = revealed_digits(&widest_logs, number);
        let mask = otp_shared::domain::mask_digits(number);
        let masked = mask.chars().filter(char::is_ascii_digit).count();
        assert!(
            shown <= masked,
            "logs reveal {shown} digits of {number}, the mask {masked}:\n{widest_logs}"
        );
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
        "1415555267",
        "4155552671",
        "4155552672",
        PLIVO_AUTH_TOKEN,
        basic.as_str(),
        SECRET,
    ] {
        assert!(!text.contains(secret), "log contains {secret:?}");
    }
}

/// How many digit positions of `number` the logs give away, putting together every
/// fragment that could be part of it (`+1415`, `+1415*****73`, ...).
fn revealed_digits(logs: &str, number: &str) -> usize {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    let mut known = vec![false; digits.len()];
    let mut rest = logs;
    while let Some(at) = rest.find('+') {
        let fragment: Vec<char> = rest[at + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '*')
            .collect();
        rest = &rest[at + 1..];
        if fragment.is_empty() || fragment.len() > digits.len() {
            continue;
        }
        // A masked form has the number's length; a plain prefix matches its start.
        let masked = fragment.contains(&'*');
        if masked && fragment.len() != digits.len() {
            continue;
        }
        let fits = fragment
            .iter()
            .zip(&digits)
            .all(|(f, d)| *f == '*' || f == d);
        if fits {
            for (i, f) in fragment.iter().enumerate() {
                if f.is_ascii_digit() {
                    known[i] = true;
                }
            }
        }
    }
    known.iter().filter(|k| **k).count()
}
