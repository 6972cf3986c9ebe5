//! Delivery receipts: sends ask Plivo for status reports when `OTP_PUBLIC_BASE_URL` is set, and
//! the callback records a signed report on the number's item, only while it belongs to the
//! pending code, and each report only once. Unsigned, badly signed, replayed, oversized or
//! malformed callbacks are refused and change nothing. Against dynalite, through the real
//! handler.

use std::sync::Arc;

use crate::common::*;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Request, Response};
use otp_shared::http::plivo_callback;
use otp_shared::service::Callbacks;
use otp_shared::store::{DynamoDbStore, TTL_ATTRIBUTE};
use serde_json::Value;

const BASE: &str = "https://otp.example.com";
const RECEIPTS: &str = "OTP_PUBLIC_BASE_URL=https://otp.example.com";

fn signed(url: &str, form: &[(&str, &str)], nonce: &str) -> Request {
    callback(
        url,
        form,
        Signing::V3 {
            token: PLIVO_AUTH_TOKEN,
            nonce,
        },
    )
}

/// A status report of the message `uuid`.
fn report<'a>(uuid: &'a str, sequence: &'a str, status: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("MessageUUID", uuid),
        ("To", "14155552671"),
        ("From", SENDER),
        ("Type", "sms"),
        ("Status", status),
        ("Sequence", sequence),
        ("Units", "1"),
    ]
}

fn json_body(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

fn assert_status(response: &Response<Body>, status: u16, code: Option<&str>) {
    let body = json_body(response);
    assert_eq!(response.status().as_u16(), status, "{body}");
    if let Some(code) = code {
        assert_eq!(body["code"], code, "{body}");
    }
}

/// The status URL of the newest SMS.
/// Whether the callback's answer says `words`.
fn says(response: &Response<Body>, words: &str) -> bool {
    json_body(response)["message"]
        .as_str()
        .is_some_and(|m| m.contains(words))
}

/// Sends a code to `us(number)` and answers the status URL Plivo was given for it.
async fn sent_to(stack: &Stack, number: u32) -> String {
    stack.sender().send(&us(number), &ANYONE).await.unwrap();
    status_url(stack).await
}

/// A stack with receipts on and a code sent to `us(number)`: its callbacks and status URL.
async fn code_sent(number: u32) -> (Stack, Callbacks<DynamoDbStore>, String) {
    let stack = Stack::new(RECEIPTS).await;
    let url = sent_to(&stack, number).await;
    let app = stack.callbacks();
    (stack, app, url)
}

/// Posts the signed report `form` to `url`, which must take it (200, nothing to say).
async fn accepted(app: &Callbacks<DynamoDbStore>, url: &str, form: &[(&str, &str)], nonce: &str) {
    assert_status(
        &plivo_callback(app, signed(url, form, nonce)).await,
        200,
        None,
    );
}

async fn status_url(stack: &Stack) -> String {
    let sent = stack.plivo.sent().await;
    let last = sent.last().expect("an sms was sent");
    assert_eq!(last["method"], "POST");
    last["url"].as_str().expect("a status url").to_owned()
}

/// The number's item, as the status URL names it.
async fn item(stack: &Stack, url: &str) -> std::collections::HashMap<String, AttributeValue> {
    let key = url.split("k=").nth(1).unwrap().split('&').next().unwrap();
    dynamodb_client()
        .get_item()
        .table_name(&stack.table)
        .key("pk", AttributeValue::S(key.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap_or_default()
}

fn text(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).map(|v| match v {
        AttributeValue::S(s) => s.clone(),
        AttributeValue::N(n) => n.clone(),
        other => format!("{other:?}"),
    })
}

#[tokio::test]
async fn sends_ask_for_status_reports_only_with_a_public_url() {
    let stack = Stack::new(RECEIPTS).await;
    let url = sent_to(&stack, 1).await;
    let (route, query) = url.split_once('?').unwrap();
    assert_eq!(route, "https://otp.example.com/plivo/callback/status");
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["k", "r", "rg"]);
    assert_eq!(params[2].1, "US");
    assert!(!url.contains("4155551001"), "no number in the URL: {url}");
    stack.clock.advance(60);
    stack.sender().send(&us(1), &ANYONE).await.unwrap();
    assert_ne!(
        status_url(&stack).await,
        url,
        "each code its own message reference"
    );

    let plain = Stack::new("").await;
    plain.sender().send(&us(1), &ANYONE).await.unwrap();
    let sent = plain.plivo.sent().await;
    assert!(sent[0].get("url").is_none() && sent[0].get("method").is_none());
}

#[tokio::test]
async fn a_signed_report_is_recorded_on_the_pending_code_in_sequence_order() {
    let (stack, app, url) = code_sent(2).await;
    let uuid = "db3ce55a-7c87-11e9-86c7-0242ac110002";
    let response = plivo_callback(&app, signed(&url, &report(uuid, "1", "queued"), "a")).await;
    assert_status(&response, 200, None);
    assert_eq!(json_body(&response)["message"], "Report recorded");
    let it = item(&stack, &url).await;
    assert_eq!(text(&it, "delivery_status").as_deref(), Some("queued"));
    assert_eq!(text(&it, "message_uuid").as_deref(), Some(uuid));
    // Reports may arrive out of order: an older one never overwrites a newer one.
    let delivered = report(uuid, "3", "delivered");
    accepted(&app, &url, &delivered, "b").await;
    let sent = report(uuid, "2", "sent");
    let late = plivo_callback(&app, signed(&url, &sent, "c")).await;
    assert_status(&late, 200, None);
    assert_eq!(
        text(&item(&stack, &url).await, "delivery_status").as_deref(),
        Some("delivered")
    );
    // A failure carries Plivo's error code.
    let mut failed = report(uuid, "4", "failed");
    failed.push(("ErrorCode", "451"));
    accepted(&app, &url, &failed, "d").await;
    let it = item(&stack, &url).await;
    assert_eq!(text(&it, "delivery_status").as_deref(), Some("failed"));
    assert_eq!(text(&it, "delivery_error").as_deref(), Some("451"));
    // The code still verifies: a report changes nothing of the code.
    let code = stack.plivo.last_code().await;
    stack
        .verifier()
        .verify(&us(2), &otp_code(&code), &ANYONE)
        .await
        .unwrap();
}

fn otp_code(text: &str) -> otp_shared::domain::OtpCode {
    code(text)
}

#[tokio::test]
async fn a_report_of_a_replaced_code_changes_nothing_and_a_new_code_clears_the_old_report() {
    let stack = Stack::new(RECEIPTS).await;
    let app = stack.callbacks();
    let first = sent_to(&stack, 3).await;
    let uuid1 = "11111111-7c87-11e9-86c7-0242ac110002";
    let queued = report(uuid1, "1", "queued");
    accepted(&app, &first, &queued, "a").await;
    stack.clock.advance(60);
    let second = sent_to(&stack, 3).await;
    let it = item(&stack, &second).await;
    assert_eq!(
        text(&it, "delivery_status"),
        None,
        "the new code starts clean"
    );
    assert_eq!(text(&it, "message_uuid"), None);
    // The first message's late report is acknowledged and changes nothing.
    let late = report(uuid1, "2", "delivered");
    let response = plivo_callback(&app, signed(&first, &late, "b")).await;
    assert_status(&response, 200, None);
    assert!(says(&response, "nothing changed"));
    assert_eq!(text(&item(&stack, &second).await, "delivery_status"), None);
    // A report of another message under the second code's reference changes nothing
    // either, once the second message reported.
    let uuid2 = "22222222-7c87-11e9-86c7-0242ac110002";
    let queued2 = report(uuid2, "1", "queued");
    accepted(&app, &second, &queued2, "c").await;
    let other = report("33333333-7c87-11e9-86c7-0242ac110002", "5", "failed");
    accepted(&app, &second, &other, "d").await;
    let it = item(&stack, &second).await;
    assert_eq!(text(&it, "delivery_status").as_deref(), Some("queued"));
    assert_eq!(text(&it, "message_uuid").as_deref(), Some(uuid2));
    // The message's later reports still count once its code is used (a code is often
    // entered before its delivery report arrives), and a new code ends them.
    let code = stack.plivo.last_code().await;
    stack
        .verifier()
        .verify(&us(3), &otp_code(&code), &ANYONE)
        .await
        .unwrap();
    let sent = report(uuid2, "2", "sent");
    accepted(&app, &second, &sent, "e").await;
    assert_eq!(
        text(&item(&stack, &second).await, "delivery_status").as_deref(),
        Some("sent")
    );
    stack.clock.advance(60);
    stack.sender().send(&us(3), &ANYONE).await.unwrap();
    let delivered = report(uuid2, "3", "delivered");
    let response = plivo_callback(&app, signed(&second, &delivered, "f")).await;
    assert!(says(&response, "nothing changed"));
    assert_eq!(text(&item(&stack, &second).await, "delivery_status"), None);
}

#[tokio::test]
async fn unsigned_forged_replayed_oversized_or_malformed_callbacks_are_refused_and_change_nothing()
{
    let (stack, app, url) = code_sent(4).await;
    let uuid = "db3ce55a-7c87-11e9-86c7-0242ac110002";
    let delivered = report(uuid, "1", "delivered");
    let internal = url.replace(
        BASE,
        "https://abcdef1234.execute-api.us-east-1.amazonaws.com",
    );
    let wrong_token = Signing::V3 {
        token: "not-the-token",
        nonce: "n",
    };
    let refusals: Vec<(&str, Request)> = vec![
        ("unsigned", callback(&url, &delivered, Signing::None)),
        ("another token", callback(&url, &delivered, wrong_token)),
        (
            "signed for the internal host",
            callback(&url, &delivered, Signing::V3Over { url: &internal }),
        ),
        ("signed for another message", {
            let other = url.replace("&rg=US", "&rg=CA");
            callback(&url, &delivered, Signing::V3Over { url: &other })
        }),
        (
            "empty nonce",
            callback(
                &url,
                &delivered,
                Signing::V3 {
                    token: PLIVO_AUTH_TOKEN,
                    nonce: "",
                },
            ),
        ),
    ];
    for (what, request) in refusals {
        let response = plivo_callback(&app, request).await;
        assert_status(&response, 403, Some("forbidden"));
        assert_eq!(
            text(&item(&stack, &url).await, "delivery_status"),
            None,
            "{what}"
        );
    }
    // A body changed after signing.
    let mut forged = signed(&url, &report(uuid, "1", "queued"), "n");
    *forged.body_mut() = Body::Text(
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&delivered)
            .finish(),
    );
    assert_status(&plivo_callback(&app, forged).await, 403, Some("forbidden"));
    // Oversized, even when signed.
    let padding = "x".repeat(9000);
    let mut big = delivered.clone();
    big.push(("Padding", &padding));
    assert_status(
        &plivo_callback(&app, signed(&url, &big, "n")).await,
        400,
        Some("invalid_request"),
    );
    // Signed, but not a status report.
    let malformed: [Vec<(&str, &str)>; 3] = [
        report(uuid, "1", "read"),
        report(uuid, "x", "delivered"),
        vec![("Status", "delivered"), ("Sequence", "1")],
    ];
    for form in malformed {
        let response = plivo_callback(&app, signed(&url, &form, "n")).await;
        assert_status(&response, 400, Some("invalid_request"));
    }
    assert_eq!(text(&item(&stack, &url).await, "delivery_status"), None);

    // The real one is recorded once; its replay, even with a new nonce, is refused.
    accepted(&app, &url, &delivered, "n1").await;
    let replay = plivo_callback(&app, signed(&url, &delivered, "n2")).await;
    assert_status(&replay, 403, Some("forbidden"));
    assert!(says(&replay, "already received"));

    // V2 signs the URL and the nonce only: a V2 request's nonce is spent with it, so its
    // signature cannot carry another body.
    let v2 = |form: &[(&str, &str)]| {
        callback(
            &url,
            form,
            Signing::V2 {
                token: PLIVO_AUTH_TOKEN,
                nonce: "v2-nonce",
            },
        )
    };
    let failed = report(uuid, "2", "failed");
    assert_status(&plivo_callback(&app, v2(&failed)).await, 200, None);
    assert_eq!(
        text(&item(&stack, &url).await, "delivery_status").as_deref(),
        Some("failed")
    );
    let undelivered = report(uuid, "3", "undelivered");
    assert_status(
        &plivo_callback(&app, v2(&undelivered)).await,
        403,
        Some("forbidden"),
    );
    assert_eq!(
        text(&item(&stack, &url).await, "delivery_status").as_deref(),
        Some("failed")
    );
}

#[tokio::test]
async fn delivery_outcomes_are_counted_per_region_and_error_code_once() {
    let stack = Stack::new(RECEIPTS).await;
    let records = Records::default();
    let app = stack.callbacks().with_metrics(records.metrics());
    let us_url = sent_to(&stack, 5).await;
    let gb = phone("+447400123456");
    stack.sender().send(&gb, &ANYONE).await.unwrap();
    let gb_url = status_url(&stack).await;
    assert!(gb_url.ends_with("&rg=GB"));
    // In the US `sent` is final; elsewhere only `delivered` is.
    let cases = [
        (
            &us_url,
            report("u1", "1", "sent"),
            Some(("Delivered", "US")),
        ),
        (&gb_url, report("g1", "1", "sent"), None),
        (
            &gb_url,
            {
                let mut f = report("g1", "2", "undelivered");
                f.push(("ErrorCode", "30"));
                f
            },
            Some(("DeliveryFailed", "GB")),
        ),
    ];
    for (i, (url, form, counted)) in cases.iter().enumerate() {
        let nonce = format!("n{i}");
        accepted(&app, url, form, &nonce).await;
        let line = records.last();
        assert_eq!(line["Operation"], "Receipt");
        assert_eq!(line["Outcome"], "Recorded");
        match counted {
            Some((metric, region)) => {
                assert_eq!(line[metric], 1, "{line}");
                assert_eq!(line["Region"], *region);
            }
            None => {
                assert!(line.get("Delivered").is_none() && line.get("DeliveryFailed").is_none())
            }
        }
    }
    let line = records.last();
    assert_eq!(line["ErrorCode"], "30");
    assert_eq!(line["DeliveryErrors"], 1);
    // A replay is refused and counted as such, never as a delivery.
    let (url, form, _) = &cases[2];
    assert_status(
        &plivo_callback(&app, signed(url, form, "again")).await,
        403,
        None,
    );
    let line = records.last();
    assert_eq!(line["Outcome"], "Forbidden");
    assert!(line.get("DeliveryFailed").is_none());
    for line in records.all() {
        let line = line.to_string();
        assert!(
            !line.contains("4155551005") && !line.contains("7400123456"),
            "{line}"
        );
    }
}

/// The sample callbacks in `events/`, signed as the local stack's Plivo sandbox signs (its
/// token, the stack's default address): the signed one is answered and then refused as a
/// replay, the forged one (its body changed, its signature kept) refused; none creates an item.
#[tokio::test]
async fn the_sample_callback_events_are_answered_as_documented() {
    let stack = Stack::new("OTP_PUBLIC_BASE_URL=http://127.0.0.1:3000/").await;
    let app = stack.callbacks_signed_with("local-sandbox-token");
    let forged = plivo_callback(&app, event("plivo-status-callback-forged.json")).await;
    assert_status(&forged, 403, Some("forbidden"));
    let first = plivo_callback(&app, event("plivo-status-callback.json")).await;
    assert_status(&first, 200, None);
    assert!(says(&first, "nothing changed"));
    let again = plivo_callback(&app, event("plivo-status-callback.json")).await;
    assert_status(&again, 403, Some("forbidden"));
    let items = dynamodb_client()
        .scan()
        .table_name(&stack.table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(
        items
            .iter()
            .all(|i| text(i, "pk").unwrap().starts_with("seen#")),
        "only the replay notes: {items:?}"
    );
}

/// A real callback may carry a V2 signature beside its V3 one; V2 signs no body, so that pair,
/// seen in any log on the way, must not carry another report once the real one arrived.
/// Sequences far beyond a message's handful are refused, so a report cannot shut out the
/// real ones after it.
#[tokio::test]
async fn a_v2_pair_that_came_with_a_v3_signature_is_spent_and_sequences_are_bounded() {
    let (stack, app, url) = code_sent(6).await;
    let uuid = "db3ce55a-7c87-11e9-86c7-0242ac110002";
    let both = Signing::Both {
        v3_nonce: "n3",
        v2_nonce: "n2",
    };
    let real = plivo_callback(&app, callback(&url, &report(uuid, "1", "queued"), both)).await;
    assert_status(&real, 200, None);
    let reused = Signing::V2 {
        token: PLIVO_AUTH_TOKEN,
        nonce: "n2",
    };
    let forged = callback(&url, &report(uuid, "2", "failed"), reused);
    assert_status(&plivo_callback(&app, forged).await, 403, Some("forbidden"));
    assert_eq!(
        text(&item(&stack, &url).await, "delivery_status").as_deref(),
        Some("queued")
    );
    for sequence in ["10001", "18446744073709551615"] {
        let far = report(uuid, sequence, "failed");
        let response = plivo_callback(&app, signed(&url, &far, sequence)).await;
        assert_status(&response, 400, Some("invalid_request"));
    }
    let next = report(uuid, "2", "delivered");
    accepted(&app, &url, &next, "n4").await;
    assert_eq!(
        text(&item(&stack, &url).await, "delivery_status").as_deref(),
        Some("delivered")
    );
}

/// A resend whose SMS fails gives the code it replaced back, and with it a clean record for
/// that code's message: a report of the failed message that arrived meanwhile neither stays
/// on the restored code nor shuts out the restored message's own later reports.
#[tokio::test]
async fn a_withdrawn_code_leaves_no_report_of_its_message_behind() {
    use wiremock::matchers::{method, path};
    let plivo = Plivo::accepting_once().await;
    wiremock::Mock::given(method("POST"))
        .and(path(message_path()))
        .respond_with(plivo_error(500, "down").set_delay(std::time::Duration::from_millis(400)))
        .with_priority(2)
        .mount(&plivo.server)
        .await;
    let stack = Stack::with_plivo(plivo, RECEIPTS).await;
    let app = stack.callbacks();
    let first = sent_to(&stack, 7).await;
    let uuid_a = "aaaaaaaa-7c87-11e9-86c7-0242ac110002";
    let delivered = report(uuid_a, "3", "delivered");
    accepted(&app, &first, &delivered, "a").await;
    stack.clock.advance(60);
    let sender = stack.sender();
    let resend = tokio::spawn(async move { sender.send(&us(7), &ANYONE).await });
    let second = loop {
        let sent = stack.plivo.sent().await;
        if sent.len() >= 2 {
            break sent[1]["url"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_ne!(second, first);
    // Plivo may have the message after all, and report it before the send gives up.
    let queued = report("bbbbbbbb-7c87-11e9-86c7-0242ac110002", "1", "queued");
    accepted(&app, &second, &queued, "b").await;
    assert!(resend.await.unwrap().is_err(), "the resend's SMS failed");
    let it = item(&stack, &first).await;
    assert_eq!(text(&it, "delivery_status"), None, "{it:?}");
    assert_eq!(text(&it, "message_uuid"), None, "{it:?}");
    let later = report(uuid_a, "4", "delivered");
    let response = plivo_callback(&app, signed(&first, &later, "c")).await;
    assert_eq!(json_body(&response)["message"], "Report recorded");
    let it = item(&stack, &first).await;
    assert_eq!(text(&it, "delivery_status").as_deref(), Some("delivered"));
    assert_eq!(text(&it, "message_uuid").as_deref(), Some(uuid_a));
}

/// The record is written before the replay note: when the note cannot be written (here
/// DynamoDB throttles it), the report is still recorded and answered as such, not lost to a
/// retry that would find it already recorded.
#[tokio::test]
async fn a_report_recorded_stands_when_its_replay_note_cannot_be_written() {
    let behaviour = otp_devtools::dynamodb_proxy::Behaviour {
        throttle_keys_starting_with: Some("seen#".to_owned()),
        ..Default::default()
    };
    let stack = Stack::with_dynamodb(Plivo::accepting().await, RECEIPTS, behaviour).await;
    let url = sent_to(&stack, 8).await;
    let app = stack.callbacks();
    let delivered = report("db3ce55a-7c87-11e9-86c7-0242ac110002", "3", "delivered");
    let response = plivo_callback(&app, signed(&url, &delivered, "a")).await;
    assert_status(&response, 200, None);
    assert_eq!(json_body(&response)["message"], "Report recorded");
    assert_eq!(
        text(&item(&stack, &url).await, "delivery_status").as_deref(),
        Some("delivered")
    );
}

/// The same report posted by many instances at the same moment (Plivo retrying over a slow
/// answer, or a replay racing the original): it is recorded once and counted once, and every
/// other copy changes nothing. 10 rounds of 16 copies released together: with a copy that
/// recorded the report but lost the note's race answered as a replay (and so not counted),
/// three runs each failed by the fifth round.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copies_of_a_report_sent_together_count_once() {
    let stack = Stack::new(RECEIPTS).await;
    let url = sent_to(&stack, 9).await;
    let uuid = "db3ce55a-7c87-11e9-86c7-0242ac110002";
    for round in 1..=10u32 {
        let records = Records::default();
        let start = Arc::new(tokio::sync::Barrier::new(16));
        let mut tasks = Vec::new();
        for copy in 0..16 {
            let app = stack.callbacks().with_metrics(records.metrics());
            let sequence = round.to_string();
            let request = signed(
                &url,
                &report(uuid, &sequence, "delivered"),
                &format!("{round}-{copy}"),
            );
            let start = start.clone();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let response = plivo_callback(&app, request).await;
                (
                    response.status().as_u16(),
                    json_body(&response)["message"].as_str().map(str::to_owned),
                )
            }));
        }
        let mut recorded = 0;
        for task in tasks {
            match task.await.unwrap() {
                (200, Some(message)) if message == "Report recorded" => recorded += 1,
                (200, Some(message)) => assert!(message.contains("nothing changed"), "{message}"),
                (403, _) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(recorded, 1, "round {round}");
        let counted = records
            .all()
            .iter()
            .filter(|record| record["Delivered"] == 1)
            .count();
        assert_eq!(counted, 1, "round {round}: counted once");
        let it = item(&stack, &url).await;
        assert_eq!(text(&it, "delivery_sequence"), Some(round.to_string()));
    }
}

#[tokio::test]
async fn with_receipts_off_a_public_url_asks_plivo_for_no_reports() {
    let stack =
        Stack::new("OTP_PUBLIC_BASE_URL=https://otp.example.com OTP_DELIVERY_RECEIPTS=false").await;
    stack.sender().send(&us(12), &ANYONE).await.unwrap();
    let sent = stack.plivo.sent().await;
    assert!(sent[0].get("url").is_none() && sent[0].get("method").is_none());
}

/// The replay notes of the table (`seen#...`).
async fn replay_notes(stack: &Stack) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    stack
        .items()
        .await
        .into_iter()
        .filter(|i| text(i, "pk").is_some_and(|pk| pk.starts_with("seen#")))
        .collect()
}

/// A report's note lasts a week (past Plivo's retries and the 3 h a message can stay
/// queued), then the table's TTL takes it; within the week a replay is refused.
#[tokio::test]
async fn a_reports_replay_note_lasts_a_week() {
    let (stack, app, url) = code_sent(10).await;
    let delivered = report("db3ce55a-7c87-11e9-86c7-0242ac110002", "3", "delivered");
    accepted(&app, &url, &delivered, "a").await;
    let notes = replay_notes(&stack).await;
    assert_eq!(notes.len(), 1);
    let week = 7 * 24 * 3600;
    assert_eq!(
        text(&notes[0], TTL_ATTRIBUTE),
        Some((START + week).to_string())
    );
    stack.clock.advance(week - 60);
    assert_status(
        &plivo_callback(&app, signed(&url, &delivered, "b")).await,
        403,
        Some("forbidden"),
    );
}

/// A report that records nothing (its code was replaced) and whose note cannot be written is
/// answered 503, so that Plivo sends it again, rather than taken as seen.
#[tokio::test]
async fn a_report_that_records_nothing_and_cannot_be_noted_is_retried() {
    let behaviour = otp_devtools::dynamodb_proxy::Behaviour {
        throttle_keys_starting_with: Some("seen#".to_owned()),
        ..Default::default()
    };
    let stack = Stack::with_dynamodb(Plivo::accepting().await, RECEIPTS, behaviour).await;
    let first = sent_to(&stack, 13).await;
    stack.clock.advance(60);
    sent_to(&stack, 13).await;
    let app = stack.callbacks();
    let late = report("db3ce55a-7c87-11e9-86c7-0242ac110002", "3", "delivered");
    assert_status(
        &plivo_callback(&app, signed(&first, &late, "a")).await,
        503,
        Some("unavailable"),
    );
}

/// An operator reads where a message was not delivered: a warning with the region and the
/// masked number; a delivered one is no warning.
#[tokio::test]
async fn an_undelivered_message_is_logged_as_a_warning_with_its_region() {
    let logs = LogBuffer::default();
    let _scope = logs.capture();
    let (_stack, app, url) = code_sent(14).await;
    let failed = report("db3ce55a-7c87-11e9-86c7-0242ac110002", "3", "failed");
    accepted(&app, &url, &failed, "a").await;
    let warning = logs.line("sms not delivered").expect("a warning");
    assert!(
        warning.contains("WARN") && warning.contains("US"),
        "{warning}"
    );
    assert!(!warning.contains("4155552671"), "{warning}");
    let logs = LogBuffer::default();
    let _scope = logs.capture();
    let (_stack, app, url) = code_sent(15).await;
    let delivered = report("db3ce55a-7c87-11e9-86c7-0242ac110002", "3", "delivered");
    accepted(&app, &url, &delivered, "a").await;
    assert_eq!(logs.line("sms not delivered"), None);
}
