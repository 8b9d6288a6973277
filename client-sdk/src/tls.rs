//! TLS configurations of the client side (draft §4): present the endpoint's [`Identity`],
//! accept exactly the far side whose certificate has the pinned fingerprint (the proposal's
//! `tlsFingerprintSHA256`), whatever names it carries. TLS 1.3 only.
//!
//! [`client_config`] serves TCP (TURN2 relays); [`quic_client_config`] wraps it for quinn with
//! the `newmedia/1` ALPN.

use crate::identity::{Fingerprint, Identity};
use rustls::DigitallySignedStruct;
use rustls::SignatureScheme;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use thiserror::Error;

/// The ALPN protocol ID of newmedia over QUIC.
pub const ALPN: &[u8] = b"newmedia/1";

/// Why a TLS configuration could not be built.
#[derive(Debug, Error)]
pub enum TlsError {
    /// rustls refused the configuration (for example an unusable private key).
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// quinn refused the rustls configuration.
    #[error("QUIC TLS configuration: {0}")]
    Quic(String),
}

/// Accepts exactly the server certificate with the pinned fingerprint. The handshake
/// signature is still verified, so the server must hold that certificate's key.
#[derive(Debug)]
struct PinnedServer {
    pin: Fingerprint,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if Fingerprint::of(end_entity) == self.pin {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

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
}

/// The TLS 1.3 cipher suite a flow uses (draft §6.3 "encryption algorithm to use"): what
/// protects the hop (QUIC packets); RTP3 messages are protected end to end by their own AEAD
/// whatever this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FlowCipher {
    /// TLS_AES_128_GCM_SHA256.
    Aes128Gcm,
    /// TLS_AES_256_GCM_SHA384.
    Aes256Gcm,
    /// TLS_CHACHA20_POLY1305_SHA256 (faster without AES instructions).
    ChaCha20Poly1305,
}

impl FlowCipher {
    fn suite(self) -> rustls::SupportedCipherSuite {
        match self {
            FlowCipher::Aes128Gcm => ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
            FlowCipher::Aes256Gcm => ring::cipher_suite::TLS13_AES_256_GCM_SHA384,
            FlowCipher::ChaCha20Poly1305 => ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        }
    }
}

/// A rustls client configuration presenting `identity` and pinning `pin`, with the given ALPN
/// protocols, offering every TLS 1.3 cipher suite.
pub fn client_config(
    identity: &Identity,
    pin: Fingerprint,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    client_config_with(identity, pin, alpn, None)
}

/// [`client_config`] preferring `cipher`, when given: it is offered first and the other
/// suites are withdrawn, except AES-128-GCM, which QUIC needs for its Initial packets (the
/// SFU picks among what is offered).
pub fn client_config_with(
    identity: &Identity,
    pin: Fingerprint,
    alpn: &[&[u8]],
    cipher: Option<FlowCipher>,
) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let mut provider = ring::default_provider();
    if let Some(c) = cipher {
        // Offered first. QUIC protects its Initial packets with AES-128-GCM (RFC 9001 §5),
        // so that suite stays on offer behind the preferred one.
        let aes128 = FlowCipher::Aes128Gcm.suite();
        provider.cipher_suites = vec![c.suite()];
        if c != FlowCipher::Aes128Gcm {
            provider.cipher_suites.push(aes128);
        }
    }
    let provider = Arc::new(provider);
    let verifier = PinnedServer {
        pin,
        algorithms: provider.signature_verification_algorithms,
    };
    let mut config =
        rustls::ClientConfig::builder_with_provider(Arc::<CryptoProvider>::clone(&provider))
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_client_auth_cert(identity.cert_chain().to_vec(), identity.key().clone_key())?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The quinn client crypto for an SFU (or any newmedia QUIC peer) pinned to `pin`.
pub fn quic_client_config(
    identity: &Identity,
    pin: Fingerprint,
    cipher: Option<FlowCipher>,
) -> Result<Arc<quinn::crypto::rustls::QuicClientConfig>, TlsError> {
    let config = client_config_with(identity, pin, &[ALPN], cipher)?;
    quinn::crypto::rustls::QuicClientConfig::try_from(config)
        .map(Arc::new)
        .map_err(|e| TlsError::Quic(e.to_string()))
}

/// The fingerprint of the certificate a connected QUIC peer presented.
pub fn peer_fingerprint(conn: &quinn::Connection) -> Option<Fingerprint> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast_ref::<Vec<CertificateDer<'static>>>()?;
    chain.first().map(Fingerprint::of)
}
