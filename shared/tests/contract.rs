//! Keeps `openapi.yaml`, `template.yaml`, the README and the code from drifting apart.

mod common;

use std::cell::RefCell;
use std::collections::BTreeSet;

use common::repo_root;
use otp_shared::config::{OtpConfig, PlivoConfig};
use otp_shared::domain::InputError;
use otp_shared::error::OtpError;
use otp_shared::sms::SmsError;
use otp_shared::store::StoreError;
use serde_norway::Value;

fn yaml(name: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join(name)).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn every_error() -> Vec<OtpError> {
    vec![
        InputError::new("x").into(),
        OtpError::CountryNotAllowed,
        OtpError::NumberTypeNotAllowed,
        OtpError::InvalidOtp,
        OtpError::TooManyAttempts { retry_after: 1 },
        OtpError::RateLimited { retry_after: 1 },
        OtpError::SmsFailed(SmsError::Unavailable {
            attempts: 1,
            last: String::new(),
        }),
        OtpError::Unavailable(StoreError::Unavailable(String::new())),
        OtpError::Internal(anyhow::anyhow!("x")),
    ]
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
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        for event in resource["Properties"]["Events"]
            .as_mapping()
            .unwrap()
            .values()
        {
            assert_eq!(event["Type"].as_str(), Some("HttpApi"));
            deployed.insert((
                event["Properties"]["Method"]
                    .as_str()
                    .unwrap()
                    .to_uppercase(),
                event["Properties"]["Path"].as_str().unwrap().to_owned(),
            ));
        }
    }
    assert_eq!(documented, deployed);
}

#[test]
fn every_error_code_and_status_is_documented() {
    let openapi = yaml("openapi.yaml");
    let codes: BTreeSet<&str> =
        openapi["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
    let produced: BTreeSet<&str> = every_error().iter().map(OtpError::code).collect();
    assert_eq!(codes, produced);

    let statuses = |path: &str| -> BTreeSet<u16> {
        openapi["paths"][path]["post"]["responses"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().parse().unwrap())
            .collect()
    };
    let send: BTreeSet<u16> = every_error()
        .iter()
        .filter(|e| !matches!(e, OtpError::InvalidOtp | OtpError::TooManyAttempts { .. }))
        .map(|e| e.status().as_u16())
        .chain([200])
        .collect();
    assert_eq!(statuses("/auth/send-otp"), send);
    let verify: BTreeSet<u16> = every_error()
        .iter()
        .filter(|e| {
            !matches!(
                e,
                OtpError::SmsFailed(_)
                    | OtpError::CountryNotAllowed
                    | OtpError::NumberTypeNotAllowed
            )
        })
        .map(|e| e.status().as_u16())
        .chain([200])
        .collect();
    assert_eq!(statuses("/auth/verify-otp"), verify);
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
    assert!(vars.len() >= 21, "{vars:?}");

    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for var in &vars {
        assert!(
            template.contains(&format!("{var}:")),
            "{var} is not set in template.yaml"
        );
        assert!(
            readme.contains(&format!("`{var}`")),
            "{var} is not in the README"
        );
    }
}
