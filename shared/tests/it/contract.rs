//! Keeps `openapi.yaml`, `template.yaml`, the README and the code from drifting apart (the
//! error codes and statuses are checked against `openapi.yaml` beside their mapping, in
//! `http.rs`).

use std::cell::RefCell;
use std::collections::BTreeSet;

use crate::common::repo_root;
use otp_shared::config::{
    CallbackConfig, FromEnv, MetricsConfig, OtpConfig, PlivoConfig, TokenConfig,
};
use otp_shared::domain::Messages;
use otp_shared::secrets::SECRET_SETTINGS;
use serde_norway::Value;

fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(name)).unwrap();
    serde_norway::from_str(&text).unwrap()
}

#[test]
fn openapi_and_template_declare_the_same_routes() {
    let openapi = yaml("openapi.yaml");
    let mut documented = BTreeSet::new();
    for (path, ops) in openapi["paths"].as_mapping().unwrap() {
        for (method, _) in ops.as_mapping().unwrap() {
            documented.insert((
                method.as_str().unwrap().to_uppercase(),
                path.as_str().unwrap().to_owned(),
            ));
        }
    }
    let template = yaml("template.yaml");
    let mut deployed = BTreeSet::new();
    for resource in template["Resources"].as_mapping().unwrap().values() {
        if resource["Type"].as_str() != Some("AWS::ApiGatewayV2::Route") {
            continue;
        }
        let key = resource["Properties"]["RouteKey"].as_str().unwrap();
        let (method, path) = key.split_once(' ').unwrap();
        deployed.insert((method.to_owned(), path.to_owned()));
        // The API's operations follow the ApiAuth parameter (public, or IAM only); the
        // token keys are public in both modes, for any verifier to fetch, and Plivo's
        // callbacks carry Plivo's signature instead.
        let auth = serde_norway::to_string(&resource["Properties"]["AuthorizationType"]).unwrap();
        let expected = if path.starts_with("/.well-known/") || path.starts_with("/plivo/callback/")
        {
            "NONE"
        } else {
            "!Ref ApiAuth"
        };
        assert_eq!(auth.trim(), expected, "{key}");
    }
    assert_eq!(documented, deployed);

    // The local stack (`cargo lambda watch`) routes the same paths.
    let cargo = std::fs::read_to_string(repo_root().join("Cargo.toml")).unwrap();
    let router = cargo
        .split("[workspace.metadata.lambda.watch.router]")
        .nth(1)
        .unwrap();
    let mut local = BTreeSet::new();
    for line in router.lines().take_while(|l| !l.starts_with('[')) {
        let Some((path, routes)) = line.split_once(" = ") else {
            continue;
        };
        for method in routes.split("method = \"").skip(1) {
            let method = method.split('"').next().unwrap().to_owned();
            local.insert((method, path.trim_matches('"').to_owned()));
        }
    }
    assert_eq!(documented, local);
}

/// The function on Plivo's public callback route holds the auth token alone, never the
/// hashing secret, and may touch only the attributes the receipt writes use: it can neither
/// hash nor write a code, nor touch a counter.
#[test]
fn the_callback_function_cannot_read_the_secret_or_write_a_code() {
    let template = yaml("template.yaml");
    let function = &template["Resources"]["PlivoCallbackFunction"]["Properties"];
    let env = &function["Environment"]["Variables"];
    assert_eq!(
        env["OTP_SECRET_ARN"].as_str(),
        Some(""),
        "overrides the Globals' ARN"
    );
    let statements = function["Policies"][0]["Statement"].as_sequence().unwrap();
    let text = |v: &Value| serde_norway::to_string(v).unwrap();
    let secrets: Vec<&Value> = statements
        .iter()
        .filter(|s| text(&s["Action"]).contains("secretsmanager:GetSecretValue"))
        .collect();
    assert_eq!(secrets.len(), 1);
    let readable = secrets[0]["Resource"].as_sequence().unwrap();
    assert_eq!(readable.len(), 1);
    assert!(
        text(&readable[0]).contains("PlivoAuthToken"),
        "{}",
        text(&readable[0])
    );
    let tables: Vec<&Value> = statements
        .iter()
        .filter(|s| text(&s["Action"]).contains("dynamodb:"))
        .collect();
    assert_eq!(tables.len(), 1);
    let allowed: Vec<&str> =
        tables[0]["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
    assert_eq!(allowed, otp_shared::store::RECEIPT_ATTRIBUTES);
    assert!(!text(&template["Globals"]).contains("PLIVO_AUTH_TOKEN"));
}

/// The function that answers calls opens the sealed tickets, so it holds `OTP_SECRET`; its
/// role may write replay notes and nothing else (no phone item, no counter).
#[test]
fn the_answer_function_may_write_only_replay_notes() {
    let template = yaml("template.yaml");
    let function = &template["Resources"]["PlivoAnswerFunction"];
    assert_eq!(function["Condition"].as_str(), Some("HasVoice"));
    let statements = function["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap();
    let text = |v: &Value| serde_norway::to_string(v).unwrap();
    let tables: Vec<&Value> = statements
        .iter()
        .filter(|s| text(&s["Action"]).contains("dynamodb:"))
        .collect();
    assert_eq!(tables.len(), 1);
    let keys: Vec<&str> = tables[0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(keys, ["seen#*", "warm-up"]);
}

/// The variables a config loader asks for, found by watching its lookups.
fn variables_read(load: impl FnOnce(&dyn Fn(&str) -> Option<String>)) -> BTreeSet<String> {
    let seen = RefCell::new(BTreeSet::new());
    let lookup = |k: &str| {
        seen.borrow_mut().insert(k.to_owned());
        match k {
            "OTP_TABLE_NAME" | "PLIVO_SENDER_ID" | "PLIVO_AUTH_TOKEN" => Some("x".to_owned()),
            "PLIVO_AUTH_ID" => Some("MAX".to_owned()),
            "OTP_SECRET" => Some("s".repeat(32)),
            "OTP_ALLOWED_COUNTRIES" => Some("*".to_owned()),
            "OTP_PUBLIC_BASE_URL" => Some("https://otp.example.com".to_owned()),
            _ => None,
        }
    };
    load(&lookup);
    seen.into_inner()
}

#[test]
fn every_setting_is_wired_in_the_template_and_documented_in_the_readme() {
    let mut vars = variables_read(|l| {
        OtpConfig::from_lookup(l).unwrap();
    });
    vars.extend(variables_read(|l| {
        PlivoConfig::from_lookup(l).unwrap();
    }));
    vars.extend(variables_read(|l| {
        CallbackConfig::from_lookup(l).unwrap();
    }));
    // The voice settings, all read once calls are on.
    vars.extend(variables_read(|l| {
        let on = |k: &str| {
            let value = l(k);
            match k {
                "OTP_VOICE_ENABLED" => Some("true".to_owned()),
                "PLIVO_VOICE_CALLER_ID" => Some("+14155550100".to_owned()),
                _ => value,
            }
        };
        PlivoConfig::from_lookup(on).unwrap().voice().unwrap();
    }));
    vars.extend(variables_read(|l| {
        Messages::from_lookup(l).unwrap();
    }));
    vars.extend(variables_read(|l| {
        MetricsConfig::from_lookup(l).unwrap();
    }));
    // The token settings, all read once a signing key is set (the key itself is checked later).
    vars.extend(variables_read(|l| {
        let with_key = |k: &str| {
            let value = l(k);
            match k {
                "OTP_TOKEN_SIGNING_KEY" | "OTP_TOKEN_AUDIENCE" => Some("x".to_owned()),
                "OTP_TOKEN_ISSUER" => Some("https://otp.example.com".to_owned()),
                _ => value,
            }
        };
        Option::<TokenConfig>::from_lookup(with_key)
            .unwrap()
            .unwrap();
    }));
    assert!(vars.len() >= 21, "{vars:?}");

    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let settings_doc = std::fs::read_to_string(repo_root().join("docs/configuration.md")).unwrap();
    // The per-language texts are optional overrides, documented as a family in
    // docs/configuration.md and shown (commented) in the template.
    assert!(settings_doc.contains("`OTP_MESSAGE_TEMPLATE_<TAG>`"));
    assert!(template.contains("# OTP_MESSAGE_TEMPLATE_FR:"));
    vars.retain(|v| !v.starts_with("OTP_MESSAGE_TEMPLATE_"));
    // Lambda sets its own variables from the function's settings.
    vars.retain(|v| !v.starts_with("AWS_LAMBDA_"));
    for var in &vars {
        // A secret is set in the template as the ARN it is read from at init.
        let arn = SECRET_SETTINGS
            .iter()
            .find(|(name, _)| name == var)
            .map(|(_, arn)| *arn);
        let set = arn.unwrap_or(var);
        assert!(
            template.contains(&format!("{set}:")),
            "{set} is not set in template.yaml"
        );
        if let Some(arn) = arn {
            assert!(
                !template.contains(&format!("{var}:")),
                "{var} in plain text"
            );
            assert!(
                settings_doc.contains(&format!("`{arn}`")),
                "{arn} is not in docs/configuration.md"
            );
        }
        assert!(
            settings_doc.contains(&format!("`{var}`")),
            "{var} is not in docs/configuration.md"
        );
    }
}
