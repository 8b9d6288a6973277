//! One client connection to the relay: the TLS handshake, then Register/Refresh answered in
//! order, and Relayed frames written as the allocation produces them.

use super::Relay;
use super::client::{Client, ConnHandle, encode};
use crate::admission::tls::fingerprint;
use bytes::Bytes;
use newmedia_proto::turn2::{ErrorCode, Turn2Frame};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, mpsc};

/// Allocation and Error frames queued toward one connection.
const CONTROL_QUEUE: usize = 16;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Handshakes, then serves the connection until either side closes it.
pub(super) async fn run(
    relay: Relay,
    tls: tokio_rustls::TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let timeout = relay.inner.config.handshake_timeout;
    let stream = match tokio::time::timeout(timeout, tls.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "TURN2 TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TURN2 TLS handshake timed out");
            return;
        }
    };
    // Client authentication is mandatory, so there is a certificate.
    let Some(certificate) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
    else {
        return;
    };
    let cert_fingerprint = fingerprint(certificate);
    let stats = &relay.inner.stats;
    stats.connection_opened();
    let (reader, writer) = tokio::io::split(stream);
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let (relayed_tx, relayed_rx) = mpsc::channel(relay.inner.config.queue_frames);
    let handle = ConnHandle {
        id: NEXT_CONNECTION.fetch_add(1, Relaxed),
        control: control_tx,
        relayed: relayed_tx,
        close: Arc::new(Notify::new()),
    };
    let writer = tokio::spawn(write_frames(writer, control_rx, relayed_rx));
    // A connection to the outbound address of a live allocation receives its datagrams at
    // once, Register or not (PROTOCOL.md §8, step 5).
    let mut joined = None;
    if relay.is_allowed(&cert_fingerprint)
        && let Some(client) = relay.client(&cert_fingerprint)
        && client.inbound().is_some()
    {
        client.join(&handle);
        joined = Some(client);
    }
    let mut session = Session {
        relay: &relay,
        handle: &handle,
        cert_fingerprint,
        joined,
    };
    session.read_frames(reader).await;
    if let Some(client) = session.joined.take() {
        client.leave(handle.id);
        relay.tidy(&client.fingerprint);
    }
    drop(handle);
    let _ = writer.await;
    stats.connection_closed();
    tracing::debug!(%peer, "TURN2 connection closed");
}

struct Session<'a> {
    relay: &'a Relay,
    handle: &'a ConnHandle,
    cert_fingerprint: [u8; 32],
    /// The client entry this connection receives for.
    joined: Option<Arc<Client>>,
}

/// What to do after a frame.
enum Next {
    Continue,
    Close,
}

impl Session<'_> {
    async fn read_frames<R: tokio::io::AsyncRead + Unpin>(&mut self, mut reader: R) {
        let mut buf: Vec<u8> = Vec::with_capacity(4096);
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            // Every whole frame in the buffer, in order.
            let mut used = 0;
            loop {
                let rest = buf.get(used..).unwrap_or_default();
                match Turn2Frame::decode(rest) {
                    Ok(Some((frame, len))) => {
                        used += len;
                        if let Next::Close = self.handle_frame(frame).await {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => {
                        self.error(ErrorCode::MALFORMED_FRAME, &error.to_string())
                            .await;
                        return;
                    }
                }
            }
            buf.drain(..used);
            let read = tokio::select! {
                read = reader.read(&mut chunk) => read,
                _ = self.handle.close.notified() => return,
            };
            match read {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
    }

    async fn handle_frame(&mut self, frame: Turn2Frame<'_>) -> Next {
        match frame {
            Turn2Frame::Register {
                fingerprint,
                lifetime,
            } => self.register(fingerprint, lifetime).await,
            Turn2Frame::Refresh { lifetime } => self.refresh(lifetime).await,
            Turn2Frame::Allocation { .. }
            | Turn2Frame::Relayed { .. }
            | Turn2Frame::Error { .. } => {
                self.error(ErrorCode::MALFORMED_FRAME, "relay-to-client frame type")
                    .await;
                Next::Close
            }
            Turn2Frame::Unknown { .. } => Next::Continue,
        }
    }

    async fn register(&mut self, fingerprint: [u8; 32], lifetime: Option<u32>) -> Next {
        if fingerprint != self.cert_fingerprint {
            self.error(
                ErrorCode::FINGERPRINT_MISMATCH,
                "fingerprint is not the TLS client certificate's",
            )
            .await;
            return Next::Continue;
        }
        if !self.relay.is_allowed(&fingerprint) {
            self.error(ErrorCode::UNKNOWN_FINGERPRINT, "unknown fingerprint")
                .await;
            return Next::Continue;
        }
        let client = self.relay.client_entry(fingerprint);
        match client.allocate(self.relay, lifetime).await {
            Ok((inbound, lifetime)) => {
                client.join(self.handle);
                self.joined = Some(client);
                self.allocation(inbound, lifetime).await;
            }
            Err(code) => {
                self.relay.tidy(&fingerprint);
                let reason = code.name().unwrap_or("error");
                self.error(code, reason).await;
            }
        }
        Next::Continue
    }

    async fn refresh(&mut self, lifetime: Option<u32>) -> Next {
        let client = self
            .relay
            .client(&self.cert_fingerprint)
            .filter(|_| self.relay.is_allowed(&self.cert_fingerprint));
        let Some(client) = client.filter(|c| c.inbound().is_some()) else {
            self.error(ErrorCode::NO_ALLOCATION, "no allocation").await;
            return Next::Continue;
        };
        if lifetime == Some(0) {
            // The release itself tells every connection of the client, this one included
            // once it has joined; answer here only if it has not.
            let member = self.joined.is_some();
            let inbound = client.inbound();
            client.release(&self.relay.inner.stats);
            if !member && let Some(inbound) = inbound {
                self.allocation(inbound, 0).await;
            }
            return Next::Continue;
        }
        let granted = self.relay.inner.config.grant(lifetime);
        match client.renew(granted) {
            Some(inbound) => {
                client.join(self.handle);
                self.joined = Some(client);
                self.allocation(inbound, granted).await;
            }
            None => self.error(ErrorCode::NO_ALLOCATION, "no allocation").await,
        }
        Next::Continue
    }

    async fn allocation(&self, inbound: SocketAddr, lifetime: u32) {
        let frame = encode(&Turn2Frame::Allocation {
            inbound,
            outbound: self.relay.inner.outbound,
            lifetime,
        });
        let _ = self.handle.control.send(frame).await;
    }

    async fn error(&self, code: ErrorCode, reason: &str) {
        self.relay.inner.stats.error_sent(code);
        let _ = self
            .handle
            .control
            .send(encode(&Turn2Frame::Error { code, reason }))
            .await;
    }
}

/// Writes queued frames, Allocation and Error first, until every sender is gone; then closes
/// the TLS session.
async fn write_frames<W: tokio::io::AsyncWrite + Unpin>(
    mut writer: W,
    mut control: mpsc::Receiver<Bytes>,
    mut relayed: mpsc::Receiver<Bytes>,
) {
    let mut control_open = true;
    let mut relayed_open = true;
    while control_open || relayed_open {
        let frame = tokio::select! {
            biased;
            frame = control.recv(), if control_open => match frame {
                Some(f) => f,
                None => { control_open = false; continue; }
            },
            frame = relayed.recv(), if relayed_open => match frame {
                Some(f) => f,
                None => { relayed_open = false; continue; }
            },
        };
        if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}
