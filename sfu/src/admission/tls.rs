//! TLS for the SFU's QUIC endpoints (draft §4): the node's certificate, and client
//! authentication by certificate fingerprint.
//!
//! Clients present self-signed certificates; there is no CA. The handshake only proves that the
//! client holds the key of the certificate it shows (the signature checks below are real); who
//! that certificate belongs to is decided after the handshake, by looking its SHA-256
//! fingerprint up in the [`super::registry::Registry`], or by the join grant the client
//! presents. The client in turn pins the SFU's fingerprint, which the proposal carries as
//! `tlsFingerprintSHA256`.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// The ALPN protocol ID of newmedia over QUIC.
pub const ALPN: &[u8] = b"newmedia/1";

/// Why a TLS configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// Generating a self-signed certificate failed.
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM file could not be read or holds no usable item.
    #[error("cannot read {path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// quinn refused the rustls configuration.
    #[error("QUIC TLS configuration: {0}")]
    Quic(String),
}

/// SHA-256 of a certificate's DER bytes: the fingerprint signaling carries.
pub fn fingerprint(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// Formats a fingerprint as signaling writes it: 32 colon-separated upper-case hex pairs.
pub fn fingerprint_text(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A certificate chain and its private key.
#[derive(Debug)]
pub struct Identity {
    /// The chain, end-entity first.
    pub cert_chain: Vec<CertificateDer<'static>>,
    /// The end-entity's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            cert_chain: self.cert_chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// A fresh self-signed certificate (ECDSA P-256) for the given names.
    pub fn self_signed(names: Vec<String>) -> Result<Self, TlsError> {
        let certified = rcgen::generate_simple_self_signed(names)?;
        Ok(Self {
            cert_chain: vec![certified.cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                certified.signing_key.serialize_der(),
            )),
        })
    }

    /// Reads a PEM certificate chain and a PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        use rustls::pki_types::pem::PemObject;
        let pem_err = |path: &Path, reason: String| TlsError::Pem {
            path: path.display().to_string(),
            reason,
        };
        let cert_chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem_err(cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem_err(cert, e.to_string()))?;
        if cert_chain.is_empty() {
            return Err(pem_err(cert, "no certificate in file".into()));
        }
        let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_err(key, e.to_string()))?;
        Ok(Self { cert_chain, key })
    }

    /// The end-entity certificate's fingerprint.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.cert_chain.first().map(fingerprint).unwrap_or_default()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The handshake-signature half of a verifier, the same for both sides: the peer must prove
/// it holds the key of the certificate it showed.
macro_rules! verify_handshake_signatures {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

/// Accepts any client certificate whose handshake signature verifies; identity is decided
/// after the handshake from the fingerprint.
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    verify_handshake_signatures!();
}

/// Accepts exactly the server certificate with the pinned fingerprint (the proposal's
/// `tlsFingerprintSHA256`), whatever its names.
#[derive(Debug)]
struct PinnedServerCertificate {
    fingerprint: [u8; 32],
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity) == self.fingerprint {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    verify_handshake_signatures!();
}

/// The rustls server configuration of an SFU node: TLS 1.3, ALPN `newmedia/1`, a client
/// certificate required (any, checked by fingerprint afterwards).
pub fn server_crypto(
    identity: &Identity,
) -> Result<Arc<quinn::crypto::rustls::QuicServerConfig>, TlsError> {
    let provider = provider();
    let verifier = AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(identity.cert_chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    quinn::crypto::rustls::QuicServerConfig::try_from(config)
        .map(Arc::new)
        .map_err(|e| TlsError::Quic(e.to_string()))
}

/// A client configuration that presents `identity` and accepts only the server whose
/// certificate has `server_fingerprint`. For tests, tools and the load generator.
pub fn client_crypto(
    identity: &Identity,
    server_fingerprint: [u8; 32],
) -> Result<Arc<quinn::crypto::rustls::QuicClientConfig>, TlsError> {
    let provider = provider();
    let verifier = PinnedServerCertificate {
        fingerprint: server_fingerprint,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(identity.cert_chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    quinn::crypto::rustls::QuicClientConfig::try_from(config)
        .map(Arc::new)
        .map_err(|e| TlsError::Quic(e.to_string()))
}

/// The ALPN protocol ID of the TURN2 relay's TLS-over-TCP service (PROTOCOL.md §8).
pub const TURN2_ALPN: &[u8] = b"newmedia-turn2/1";

/// The rustls server configuration of the node's TURN2 relay (TLS 1.3 over TCP): the node's
/// certificate, ALPN `newmedia-turn2/1` (a client offering no ALPN is accepted too), and a
/// client certificate required (any; the relay checks its fingerprint).
pub fn tcp_server_config(identity: &Identity) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let verifier = AnyClientCertificate {
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(identity.cert_chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![TURN2_ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// A TCP client configuration for the node's TURN2 relay: presents `identity`, accepts only
/// the server with `server_fingerprint`, offers ALPN `newmedia-turn2/1`. For tests and tools.
pub fn tcp_client_config(
    identity: &Identity,
    server_fingerprint: [u8; 32],
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let verifier = PinnedServerCertificate {
        fingerprint: server_fingerprint,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(identity.cert_chain.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![TURN2_ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The fingerprint of the certificate a connected peer presented.
pub fn peer_fingerprint(conn: &quinn::Connection) -> Option<[u8; 32]> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast_ref::<Vec<CertificateDer<'static>>>()?;
    chain.first().map(fingerprint)
}
