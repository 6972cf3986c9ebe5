//! dynalite, a DynamoDB-compatible server from npm, started on a loopback port.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::{Context, bail};
use aws_sdk_dynamodb::config::{Credentials, Region};

use crate::repo_root;

/// A running dynalite. It exits when this value is dropped, and also when this process dies
/// first (its standard input closes).
pub struct Dynalite {
    pub port: u16,
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dynalite {
    /// Starts dynalite on `port` (0: any free port), in memory or persisting under `path`.
    pub fn start(port: u16, path: Option<&Path>) -> anyhow::Result<Self> {
        let root = repo_root();
        if !root.join("node_modules/dynalite").exists() {
            bail!(
                "dynalite is not installed: run `npm ci` in {} (`make test` and `make local` do)",
                root.display()
            );
        }
        let mut command = Command::new("node");
        command
            .arg(root.join("scripts/dynalite.js"))
            .arg("--port")
            .arg(port.to_string())
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(path) = path {
            std::fs::create_dir_all(path)?;
            command.arg("--path").arg(path);
        }
        let mut child = command
            .spawn()
            .context("start node (is Node.js installed?)")?;
        let stdout = child.stdout.take().expect("piped");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("dynalite did not start: {line:?}"))?;
        let stdin = child.stdin.take().expect("piped");
        Ok(Self {
            port,
            child,
            stdin: Some(stdin),
        })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A DynamoDB client for a local endpoint, with dummy credentials.
pub fn local_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "local"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}
