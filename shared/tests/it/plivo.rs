//! The Plivo client against a local server speaking Plivo's Message API.

use std::time::{Duration, Instant};

use crate::common::*;
use otp_shared::config::{FromEnv, PlivoConfig};
use otp_shared::domain::PhoneNumber;
use otp_shared::sms::{PlivoSmsSender, SmsError, SmsSender};
use secrecy::SecretString;
use wiremock::matchers::{basic_auth, body_json, header, method, path};
use wiremock::{Mock, MockServer};

fn to() -> PhoneNumber {
    PhoneNumber::parse("+14155552671").unwrap()
}

fn text() -> SecretString {
    SecretString::from("Your verification code is 123456.")
}

fn client(server: &MockServer) -> PlivoSmsSender {
    PlivoSmsSender::new(&plivo_config(&server.uri()), quick_retry()).unwrap()
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn sends_plivos_documented_request_and_accepts_202() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v1/Account/{PLIVO_AUTH_ID}/Message/")))
        .and(basic_auth(PLIVO_AUTH_ID, PLIVO_AUTH_TOKEN))
        .and(header("content-type", "application/json"))
        .and(body_json(serde_json::json!({
            "src": SENDER,
            "dst": "+14155552671",
            "text": "Your verification code is 123456.",
            "log": false,
        })))
        .respond_with(queued())
        .expect(1)
        .mount(&server)
        .await;
    client(&server).send(&to(), &text(), None).await.unwrap();
}

#[tokio::test]
async fn the_log_setting_is_passed_to_plivo() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_partial_json(
            serde_json::json!({"log": "number_only"}),
        ))
        .respond_with(queued())
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let config = PlivoConfig::from_lookup(|k| {
        match k {
            "PLIVO_AUTH_ID" => Some(PLIVO_AUTH_ID),
            "PLIVO_AUTH_TOKEN" => Some(PLIVO_AUTH_TOKEN),
            "PLIVO_SENDER_ID" => Some(SENDER),
            "PLIVO_API_URL" => Some(uri.as_str()),
            "PLIVO_LOG" => Some("number_only"),
            _ => None,
        }
        .map(str::to_owned)
    })
    .unwrap();
    PlivoSmsSender::new(&config, quick_retry())
        .unwrap()
        .send(&to(), &text(), None)
        .await
        .unwrap();
}

/// 5xx and 429 are retried until Plivo queues the message: (status, failures before the 202).
#[tokio::test]
async fn server_errors_and_throttling_are_retried_until_queued() {
    for (status, failures) in [(500, 1), (429, 2)] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(plivo_error(status, "try again"))
            .up_to_n_times(failures)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(queued())
            .mount(&server)
            .await;
        client(&server).send(&to(), &text(), None).await.unwrap();
        assert_eq!(requests(&server).await, failures as usize + 1, "{status}");
    }
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 401, 404] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(plivo_error(status, "dst parameter 14155552671 is invalid"))
            .mount(&server)
            .await;
        let err = client(&server)
            .send(&to(), &text(), None)
            .await
            .unwrap_err();
        match &err {
            SmsError::Refused {
                status: s,
                api_id,
                error,
            } => {
                assert_eq!(*s, status);
                assert_eq!(
                    api_id.as_deref(),
                    Some("3a4ef2c2-7c88-11e9-86c7-0242ac110002")
                );
                // Plivo's text is kept for the log, with every digit hidden.
                assert_eq!(error, "dst parameter ########### is invalid");
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(requests(&server).await, 1, "status {status}");
    }
}

#[tokio::test]
async fn a_server_that_stays_down_is_given_up_after_three_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(plivo_error(503, "unavailable"))
        .mount(&server)
        .await;
    let err = client(&server)
        .send(&to(), &text(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SmsError::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(requests(&server).await, 3);
}

#[tokio::test]
async fn a_server_that_never_answers_is_given_up_within_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(queued().set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let policy = short_attempts(Duration::from_millis(1200));
    let sender = PlivoSmsSender::new(&plivo_config(&server.uri()), policy).unwrap();
    let started = Instant::now();
    let err = sender.send(&to(), &text(), None).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, SmsError::Unavailable { .. }), "{err:?}");
    // Far below the server's 30 s delay: the budget, not the server, ended the wait.
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
    // Not retried: Plivo may have the message (see security.rs).
    assert_eq!(requests(&server).await, 1);
}

#[tokio::test]
async fn an_unreachable_plivo_is_reported_as_unavailable() {
    let sender = PlivoSmsSender::new(&plivo_config("http://127.0.0.1:9"), quick_retry()).unwrap();
    let err = sender.send(&to(), &text(), None).await.unwrap_err();
    assert!(
        matches!(err, SmsError::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
}
