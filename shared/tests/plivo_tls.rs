//! Whom the Plivo client trusts: the public CAs compiled into the binary, not the machine's
//! certificate store. A test binary of its own because it points `SSL_CERT_FILE`, which the
//! system store honours, at a private CA.

// The harness the integration tests share; this binary uses part of it.
#[allow(dead_code)]
#[path = "it/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use otp_shared::domain::PhoneNumber;
use otp_shared::sms::{PlivoSmsSender, SmsError, SmsSender};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use secrecy::SecretString;
use tokio::io::AsyncReadExt;

/// A private CA, and a certificate for 127.0.0.1 it signed with its key.
struct PrivatePki {
    ca_pem: String,
    leaf: rustls::pki_types::CertificateDer<'static>,
    leaf_key: rustls::pki_types::PrivateKeyDer<'static>,
}

fn private_pki() -> PrivatePki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    PrivatePki {
        ca_pem: ca.pem(),
        leaf: leaf.der().clone(),
        leaf_key: rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    }
}

/// A TLS server on loopback presenting `pki`'s certificate, as an impostor of Plivo's API
/// would. Returns its URL, the connections it accepted and every byte a client sent through
/// TLS.
async fn impostor(pki: PrivatePki) -> (String, Arc<AtomicUsize>, Arc<Mutex<Vec<u8>>>) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf], pki.leaf_key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let received: Arc<Mutex<Vec<u8>>> = Arc::default();
    let (c, r) = (Arc::clone(&connections), Arc::clone(&received));
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            c.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut tls) = acceptor.accept(tcp).await {
                let mut buf = vec![0; 4096];
                let n = tls.read(&mut buf).await.unwrap_or(0);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    (url, connections, received)
}

#[test]
fn a_certificate_only_the_machine_store_trusts_is_refused_before_anything_is_sent() {
    let pki = private_pki();
    let ca_file = std::env::temp_dir().join(format!("otp-plivo-tls-{}.pem", std::process::id()));
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    // SAFETY: the only test of this binary sets the variable before it starts a runtime or
    // any thread of its own; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("SSL_CERT_FILE", &ca_file) };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (url, connections, received) = impostor(pki).await;
        let sender = PlivoSmsSender::new(&plivo_config(&url), quick_retry()).unwrap();
        let to = PhoneNumber::parse("+14155552671").unwrap();
        let err = sender
            .send(
                &to,
                &SecretString::from("Your verification code is 123456."),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(err, SmsError::Unavailable { .. }), "{err:?}");
        assert!(connections.load(Ordering::SeqCst) >= 1, "never connected");
        // Neither the credentials nor the code crossed the connection.
        assert!(received.lock().unwrap().is_empty());
    });
    std::fs::remove_file(&ca_file).unwrap();
}
