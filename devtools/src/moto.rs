//! moto's server (PyPI), standing in for AWS Secrets Manager and SSM Parameter Store: it
//! speaks both wire protocols well enough for the secrets the functions read at init. Never
//! for DynamoDB: its conditional writes race.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// A running moto server on a loopback port. It stops when this value is dropped.
pub struct Moto {
    port: u16,
    _child: Child,
    http: reqwest::Client,
}

impl Moto {
    /// Starts `$MOTO_SERVER` (`make test` points it at the tools' virtual environment), or
    /// `moto_server` from the PATH, on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&[]).await
    }

    /// A server that checks every request's credentials against its own IAM, which knows
    /// none: every call is refused, as AWS refuses a role without the permission.
    pub async fn start_enforcing_iam() -> anyhow::Result<Self> {
        Self::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]).await
    }

    async fn start_with(env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| "moto_server".to_owned());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("start {program} (moto's server: `make rust-tests` installs it)")
            })?;
        let moto = Self {
            port,
            _child: child,
            http: reqwest::Client::new(),
        };
        for _ in 0..200 {
            if moto.http.get(moto.endpoint()).send().await.is_ok() {
                return Ok(moto);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("{program} did not answer on port {port}")
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The settings that point a function's Secrets Manager and SSM clients here.
    pub fn function_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.endpoint()),
            ("AWS_ENDPOINT_URL_SSM", self.endpoint()),
        ]
    }

    /// One JSON-protocol call, as the SDKs make it (moto reads the service from the
    /// signature's credential scope, and checks no signature).
    async fn call(&self, service: &str, target: &str, body: Value) -> anyhow::Result<Value> {
        let scope = format!(
            "AWS4-HMAC-SHA256 Credential=local/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host, Signature=0"
        );
        let response = self
            .http
            .post(self.endpoint())
            .header("authorization", scope)
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1")
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            bail!("{target}: {status} {answer}");
        }
        Ok(answer)
    }

    /// Creates a Secrets Manager secret holding `value`; its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> anyhow::Result<String> {
        let body = json!({ "Name": name, "SecretString": value });
        let answer = self
            .call("secretsmanager", "secretsmanager.CreateSecret", body)
            .await?;
        Ok(answer["ARN"].as_str().context("no ARN")?.to_owned())
    }

    /// Creates an SSM SecureString parameter holding `value`; its ARN.
    pub async fn put_parameter(&self, name: &str, value: &str) -> anyhow::Result<String> {
        let body = json!({ "Name": name, "Value": value, "Type": "SecureString" });
        self.call("ssm", "AmazonSSM.PutParameter", body).await?;
        let name = name.trim_start_matches('/');
        Ok(format!(
            "arn:aws:ssm:us-east-1:123456789012:parameter/{name}"
        ))
    }
}
