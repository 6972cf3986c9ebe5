//! The metrics of real invocations (the HTTP handlers against dynalite and a Plivo stand-in):
//! one Embedded Metric Format record per request, valid EMF, naming what became of it.

use crate::common::*;
use lambda_http::http::Method;
use otp_devtools::dynamodb_proxy::Behaviour;
use otp_shared::http::{send_otp, verify_otp};
use serde_json::{Value, json};

/// The dimension sets a metric is published under in `record`.
fn dimensions_of(record: &Value, metric: &str) -> Vec<Vec<String>> {
    record["_aws"]["CloudWatchMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| {
            d["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Name"] == metric)
        })
        .flat_map(|d| {
            d["Dimensions"].as_array().unwrap().iter().map(|set| {
                set.as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_str().unwrap().to_owned())
                    .collect()
            })
        })
        .collect()
}

fn assert_outcome(record: &Value, operation: &str, outcome: &str) {
    assert_eq!(
        (record["Operation"].as_str(), record["Outcome"].as_str()),
        (Some(operation), Some(outcome)),
        "{record}"
    );
    assert_eq!(record["Requests"], 1);
    assert_eq!(
        dimensions_of(record, "Requests"),
        [["Operation", "Outcome"]]
    );
    assert!(record["Latency"].as_f64().unwrap() > 0.0);
    assert_eq!(dimensions_of(record, "Latency"), [["Operation"]]);
    // Low cardinality: never the number, the address or the range.
    let text = record.to_string();
    for secret in ["4155552671", "198.51.100", "2001:db8"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

fn send_body(number: &str) -> Value {
    json!({ "phoneNumber": number })
}

fn verify_body(number: &str, otp: &str) -> Value {
    json!({ "phoneNumber": number, "otp": otp })
}

#[tokio::test]
async fn a_send_and_a_verify_record_their_outcome_region_latencies_and_segments() {
    let stack = Stack::new("").await;
    let records = Records::default();
    let sender = stack.sender().with_metrics(records.metrics());
    let req = event_with_body("send-otp.json", send_body("+14155552671"));
    assert_eq!(send_otp(&sender, req).await.status(), 200);

    let sent = records.last();
    assert_outcome(&sent, "Send", "Sent");
    assert_eq!(sent["Region"], "US");
    assert_eq!(sent["Sent"], 1);
    assert_eq!(dimensions_of(&sent, "Sent"), [["Region"]]);
    assert_eq!(sent["Unverified"], 1);
    assert_eq!(dimensions_of(&sent, "Unverified"), [["Region"]]);
    assert_eq!(sent["Segments"], 1);
    assert!(sent["DynamoDbLatency"].as_f64().unwrap() > 0.0);
    assert!(sent["PlivoLatency"].as_f64().unwrap() > 0.0);
    assert_eq!(sent["ColdStart"], 1);
    assert_eq!(sent["level"], "WARN");

    let records = Records::default();
    let verifier = stack.verifier().with_metrics(records.metrics());
    let code = stack.plivo.last_code().await;
    for (otp, outcome) in [(wrong(&code), "InvalidOtp"), (code.clone(), "Verified")] {
        let req = event_with_body("verify-otp.json", verify_body("+14155552671", &otp));
        verify_otp(&verifier, req).await;
        let record = records.last();
        assert_outcome(&record, "Verify", outcome);
        assert_eq!(record["Region"], "US");
        assert!(record["DynamoDbLatency"].as_f64().unwrap() > 0.0);
        assert!(record.get("PlivoLatency").is_none());
    }
    let verified = records.last();
    assert_eq!(verified["Verified"], 1);
    assert_eq!(dimensions_of(&verified, "Verified"), [["Region"]]);
    assert_eq!(verified["Unverified"], -1);
    let [first, second] = &records.all()[..] else {
        panic!("two records")
    };
    assert_eq!(
        (&first["ColdStart"], &second["ColdStart"]),
        (&json!(1), &json!(0))
    );
    assert!(first.get("Verified").is_none() && first.get("Sent").is_none());
}

#[tokio::test]
async fn refusals_record_their_outcome_and_the_limit_that_tripped() {
    let stack = Stack::new(
        "OTP_ALLOWED_COUNTRIES=US,NU OTP_MAX_ATTEMPTS=2 OTP_MAX_SENDS_PER_IP_PER_HOUR=2",
    )
    .await;
    let records = Records::default();
    let sender = stack.sender().with_metrics(records.metrics());
    let verifier = stack.verifier().with_metrics(records.metrics());
    let send =
        |number: &str| send_otp(&sender, event_with_body("send-otp.json", send_body(number)));
    assert_eq!(send("+14155552671").await.status(), 200);
    let bad = wrong(&stack.plivo.last_code().await);

    let cases: Vec<(Value, &str, &str, Option<&str>)> = vec![
        (
            send_body("+14155552671"),
            "Send",
            "RateLimited",
            Some("PerNumber"),
        ),
        (
            send_body("+442071838750"),
            "Send",
            "CountryNotAllowed",
            None,
        ),
        // A Niue landline: the region is allowed, the line type is not.
        (send_body("+6837123"), "Send", "NumberTypeNotAllowed", None),
        (
            json!({ "phone": "+14155552671" }),
            "Send",
            "InvalidRequest",
            None,
        ),
        (send_body("+14155552672"), "Send", "Sent", None),
        (
            send_body("+14155552673"),
            "Send",
            "RateLimited",
            Some("SendsPerIp"),
        ),
        (
            verify_body("+14155552671", "12345x"),
            "Verify",
            "InvalidRequest",
            None,
        ),
        (
            verify_body("+14155552671", &bad),
            "Verify",
            "InvalidOtp",
            None,
        ),
        (
            verify_body("+14155552671", &bad),
            "Verify",
            "TooManyAttempts",
            Some("Attempts"),
        ),
    ];
    for (body, operation, outcome, limit) in cases {
        let _ = if operation == "Send" {
            send_otp(&sender, event_with_body("send-otp.json", body)).await
        } else {
            verify_otp(&verifier, event_with_body("verify-otp.json", body)).await
        };
        let record = records.last();
        assert_outcome(&record, operation, outcome);
        assert_eq!(record["Limit"].as_str(), limit, "{record}");
        if limit.is_some() {
            assert_eq!(record["LimitReached"], 1);
            assert_eq!(
                dimensions_of(&record, "LimitReached"),
                [["Operation", "Limit"]]
            );
        } else {
            assert!(record.get("LimitReached").is_none(), "{record}");
        }
        if outcome != "Sent" {
            assert!(record.get("Sent").is_none() && record.get("Segments").is_none());
            assert!(record.get("Unverified").is_none(), "{record}");
        }
    }
}

#[tokio::test]
async fn failing_dependencies_record_sms_failed_unavailable_and_internal() {
    let failing = Stack::with_plivo(Plivo::failing(400).await, "").await;
    let records = Records::default();
    let sender = failing.sender().with_metrics(records.metrics());
    let req = event_with_body("send-otp.json", send_body("+14155552671"));
    assert_eq!(send_otp(&sender, req).await.status(), 502);
    let record = records.last();
    assert_outcome(&record, "Send", "SmsFailed");
    assert!(record["PlivoLatency"].as_f64().unwrap() > 0.0);
    assert!(record.get("Sent").is_none());

    for (status, error_type, outcome) in [
        (500, "InternalServerError", "Unavailable"),
        (400, "ValidationException", "Internal"),
    ] {
        let behaviour = Behaviour {
            fail_updates_with: Some((status, error_type.to_owned())),
            ..Behaviour::default()
        };
        let stack = Stack::with_dynamodb(Plivo::accepting().await, "", behaviour).await;
        let records = Records::default();
        let sender = stack.sender().with_metrics(records.metrics());
        let verifier = stack.verifier().with_metrics(records.metrics());
        let req = event_with_body("send-otp.json", send_body("+14155552671"));
        send_otp(&sender, req).await;
        assert_outcome(&records.last(), "Send", outcome);
        let req = event_with_body("verify-otp.json", verify_body("+14155552671", "123456"));
        verify_otp(&verifier, req).await;
        assert_outcome(&records.last(), "Verify", outcome);
        assert!(stack.plivo.sent().await.is_empty());
    }
}

#[tokio::test]
async fn a_key_request_is_recorded_too() {
    let stack = Stack::new("").await;
    let records = Records::default();
    let verifier = stack.verifier().with_metrics(records.metrics());
    let mut req = event_with_body("verify-otp.json", json!({}));
    *req.method_mut() = Method::GET;
    *req.uri_mut() = "https://example.com/.well-known/jwks.json".parse().unwrap();
    assert_eq!(verify_otp(&verifier, req).await.status(), 404);
    let record = records.last();
    assert_outcome(&record, "Keys", "NotFound");
}
