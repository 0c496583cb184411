//! A TLS terminator on loopback in front of the emulator, so a function's AWS calls pay the
//! handshake they pay in AWS. Its certificate is signed by a CA made here (rcgen); the function
//! is given a bundle of the machine's roots plus that CA through `SSL_CERT_FILE`, which the
//! SDK's HTTP client reads (`rustls-native-certs`), as it reads the system roots in Lambda.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where the machine keeps its CA bundle (Debian's path; the bundle is copied when present).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A running terminator: `https://localhost:{port}` forwards to the emulator.
pub(crate) struct Front {
    pub(crate) endpoint: String,
    /// The bundle to hand a process as `SSL_CERT_FILE`.
    pub(crate) roots: PathBuf,
}

/// Starts a terminator forwarding to `upstream`; `dir` receives the roots bundle.
pub(crate) async fn start(upstream: SocketAddr, dir: &Path) -> Result<Front, Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.distinguished_name
        .push(DnType::CommonName, "Deckhand bench CA (loopback only)");
    let ca_cert = ca.self_signed(&ca_key)?;
    let leaf_key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])?;
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;

    let mut bundle = std::fs::read_to_string(SYSTEM_ROOTS).unwrap_or_default();
    bundle.push('\n');
    bundle.push_str(&ca_cert.pem());
    std::fs::create_dir_all(dir)?;
    let roots = dir.join("bench-roots.pem");
    std::fs::write(&roots, bundle)?;

    let chain = vec![CertificateDer::from(leaf_cert.der().to_vec())];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    Ok(Front {
        endpoint: format!("https://localhost:{port}"),
        roots,
    })
}
