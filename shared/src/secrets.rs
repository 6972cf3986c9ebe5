//! Secrets kept out of the function configuration. Each secret setting `NAME` may instead be
//! given as `NAME_ARN`: the ARN of a Secrets Manager secret (its string value) or of an SSM
//! parameter (a SecureString, decrypted). They are read once, during init, with the
//! function's own role, which may read exactly those resources; anyone who can read the
//! function's configuration sees only the ARNs. Plain `NAME` keeps working (local runs, tests).

use std::collections::HashMap;
use std::time::Duration;

use aws_config::Region;
use aws_config::SdkConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use secrecy::{ExposeSecret, SecretString};
use tokio::task::JoinSet;

use crate::config::{ConfigError, problem};

/// The settings that may come from Secrets Manager or SSM, and the variable naming where.
pub const SECRET_SETTINGS: &[(&str, &str)] = &[
    ("OTP_SECRET", "OTP_SECRET_ARN"),
    ("PLIVO_AUTH_ID", "PLIVO_AUTH_ID_ARN"),
    ("PLIVO_AUTH_TOKEN", "PLIVO_AUTH_TOKEN_ARN"),
    ("OTP_TOKEN_SIGNING_KEY", "OTP_TOKEN_SIGNING_KEY_ARN"),
];

/// Where a secret lives: the service, and the ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    SecretsManager(String),
    Parameter(String),
}

impl Source {
    fn arn(&self) -> &str {
        match self {
            Source::SecretsManager(arn) | Source::Parameter(arn) => arn,
        }
    }

    /// The region in the ARN, where the request must go (it may differ from the function's).
    fn region(&self) -> &str {
        self.arn().split(':').nth(3).unwrap_or_default()
    }
}

impl Source {
    /// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>` or
    /// `arn:<partition>:ssm:<region>:<account>:parameter/<name>`.
    fn parse(arn: &str) -> Option<Self> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts[..] else {
            return None;
        };
        let well_formed = prefix == "arn"
            && !partition.is_empty()
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit());
        match (service, resource) {
            _ if !well_formed => None,
            ("secretsmanager", r) if r.len() > "secret:".len() && r.starts_with("secret:") => {
                Some(Source::SecretsManager(arn.to_owned()))
            }
            ("ssm", r) if r.len() > "parameter/".len() && r.starts_with("parameter/") => {
                Some(Source::Parameter(arn.to_owned()))
            }
            _ => None,
        }
    }
}

/// Time allowed for reading the secrets: they are read during init, which Lambda limits to
/// 10 s; a failure stops the function with a log line instead of a timeout.
fn secret_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build()
}

/// The function's settings: its environment, with the secrets named by `NAME_ARN` read in.
pub(crate) struct Settings {
    fetched: HashMap<&'static str, SecretString>,
}

impl Settings {
    /// Reads the environment's secret ARNs (concurrently; nothing is called when there are
    /// none). An ARN that is malformed, set beside its plain setting, missing or unreadable
    /// is an error naming the `_ARN` variable, never the value.
    pub(crate) async fn load() -> Result<Self, ConfigError> {
        Self::load_from(|k| std::env::var(k).ok()).await
    }

    async fn load_from(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut wanted = Vec::new();
        for &(name, arn_var) in SECRET_SETTINGS {
            let Some(arn) = env(arn_var).filter(|a| !a.trim().is_empty()) else {
                continue;
            };
            if env(name).is_some_and(|v| !v.is_empty()) {
                return Err(problem(
                    arn_var,
                    format!("set either {name} or {arn_var}, not both"),
                ));
            }
            let source = Source::parse(arn.trim()).ok_or_else(|| {
                problem(
                    arn_var,
                    "must be the ARN of a Secrets Manager secret \
                     (arn:aws:secretsmanager:...:secret:...) or of an SSM parameter \
                     (arn:aws:ssm:...:parameter/...)",
                )
            })?;
            wanted.push((name, arn_var, source));
        }
        let mut fetched = HashMap::new();
        if wanted.is_empty() {
            return Ok(Self { fetched });
        }
        let config = crate::aws::sdk_config(secret_timeouts())
            .await
            .map_err(|e| problem(wanted[0].1, format!("no AWS configuration: {e}")))?;
        let mut reads = JoinSet::new();
        for (name, arn_var, source) in wanted {
            let config = config.clone();
            reads.spawn(async move { (name, arn_var, read(&config, source).await) });
        }
        while let Some(done) = reads.join_next().await {
            let (name, arn_var, value) = done.expect("a secret read panicked");
            let value = value.map_err(|why| problem(arn_var, why))?;
            fetched.insert(name, value);
        }
        Ok(Self { fetched })
    }

    /// The setting `name`: a secret read in, else the environment variable.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        match self.fetched.get(name) {
            Some(secret) => Some(secret.expose_secret().to_owned()),
            None => std::env::var(name).ok(),
        }
    }
}

/// One secret's value, or why it could not be read (AWS's error code and message, which
/// name the resource and never its value).
async fn read(config: &SdkConfig, source: Source) -> Result<SecretString, String> {
    // AWS's code and message when it answered with an error (they name the resource, never
    // a value); else only the kind of failure. An answer that did not parse is not described
    // further: its parser's message could quote the body, which holds the secret.
    fn failed<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
        e: &SdkError<E, R>,
    ) -> String {
        let what = match e {
            SdkError::ServiceError(_) => {
                return format!(
                    "could not be read: {}: {}",
                    e.code().unwrap_or("error"),
                    e.message().unwrap_or_default()
                );
            }
            SdkError::TimeoutError(_) => "timed out",
            SdkError::DispatchFailure(d) if d.is_timeout() => "timed out connecting",
            SdkError::DispatchFailure(d) if d.is_user() => {
                "the request could not be sent (credentials?)"
            }
            SdkError::DispatchFailure(_) => "no connection",
            SdkError::ResponseError(_) => "the answer could not be read",
            _ => "the request could not be built (credentials or region?)",
        };
        format!("could not be read: {what}")
    }
    let region = Region::new(source.region().to_owned());
    let value = match source {
        Source::SecretsManager(arn) => {
            let config = aws_sdk_secretsmanager::config::Builder::from(config).region(region);
            let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
            let out = client.get_secret_value().secret_id(arn).send().await;
            let out = out.map_err(|e| failed(&e))?;
            out.secret_string
                .ok_or("the secret has no string value (a binary secret)")?
        }
        Source::Parameter(arn) => {
            let config = aws_sdk_ssm::config::Builder::from(config).region(region);
            let client = aws_sdk_ssm::Client::from_conf(config.build());
            let out = client
                .get_parameter()
                .name(arn)
                .with_decryption(true)
                .send()
                .await;
            let out = out.map_err(|e| failed(&e))?;
            out.parameter
                .and_then(|p| p.value)
                .ok_or("the parameter has no value")?
        }
    };
    if value.is_empty() {
        return Err("the value is empty".to_owned());
    }
    Ok(SecretString::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_secrets_manager_and_ssm_parameter_arns_are_accepted() {
        let secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:otp/secret-AbCdEf";
        let parameter = "arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/otp/plivo";
        assert_eq!(
            Source::parse(secret),
            Some(Source::SecretsManager(secret.to_owned()))
        );
        assert_eq!(
            Source::parse(parameter),
            Some(Source::Parameter(parameter.to_owned()))
        );
        for bad in [
            "otp/secret",
            "/otp/plivo",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:",
            "arn:aws:ssm:eu-west-1:123456789012:parameter/",
            "arn:aws:ssm:eu-west-1:1234:parameter/x",
            "arn:aws:s3:::bucket/key",
            "arn:aws:kms:eu-west-1:123456789012:key/abc",
            "arn:aws:secretsmanager::123456789012:secret:x",
        ] {
            assert_eq!(Source::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn an_arn_beside_its_plain_setting_or_malformed_is_refused_before_any_call() {
        let both = |k: &str| match k {
            "OTP_SECRET" => Some("x".repeat(32)),
            "OTP_SECRET_ARN" => Some("arn:aws:ssm:us-east-1:123456789012:parameter/s".into()),
            _ => None,
        };
        let err = Settings::load_from(both).await.err().unwrap();
        assert_eq!(err.var, "OTP_SECRET_ARN");
        assert!(!err.to_string().contains(&"x".repeat(32)));
        let malformed = |k: &str| (k == "PLIVO_AUTH_TOKEN_ARN").then(|| "my-token".to_owned());
        let err = Settings::load_from(malformed).await.err().unwrap();
        assert_eq!(err.var, "PLIVO_AUTH_TOKEN_ARN");
        assert!(err.to_string().contains("must be the ARN"), "{err}");
        let none = Settings::load_from(|_| None).await.unwrap();
        assert!(none.fetched.is_empty());
    }
}
