//! One TLS connection to a relay: connect, send frames, read frames (incrementally).

use super::{Allocation, RelayError, TURN2_ALPN};
use crate::identity::{Fingerprint, Identity};
use bytes::Bytes;
use newmedia_proto::turn2::Turn2Frame;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A frame from the relay, owned.
#[derive(Debug)]
pub(super) enum Incoming {
    Allocation(Allocation),
    Relayed(SocketAddr, Bytes),
    Error(RelayError),
    /// A frame type this client ignores (unknown types, and client-only types are refused).
    Ignored,
}

/// The reading half of a relay connection, with its frame buffer.
#[derive(Debug)]
pub(super) struct LinkReader {
    read: ReadHalf<TlsStream<TcpStream>>,
    buf: Vec<u8>,
    chunk: Box<[u8]>,
}

/// The writing half.
#[derive(Debug)]
pub(super) struct LinkWriter {
    write: WriteHalf<TlsStream<TcpStream>>,
    out: Vec<u8>,
}

/// Opens TCP and TLS to `addr` within `timeout`, presenting `identity` and accepting only the
/// certificate with `pin`.
pub(super) async fn connect(
    identity: &Identity,
    addr: SocketAddr,
    pin: Fingerprint,
    timeout: Duration,
) -> Result<(LinkReader, LinkWriter), RelayError> {
    let config = crate::tls::client_config(identity, pin, &[TURN2_ALPN]).map_err(Arc::new)?;
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| RelayError::Timeout)?
        .map_err(|e| RelayError::Connect {
            addr,
            source: Arc::new(e),
        })?;
    let _ = tcp.set_nodelay(true);
    // The name is not checked: the pin decides.
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let tls = tokio::time::timeout(
        timeout,
        tokio_rustls::TlsConnector::from(config).connect(name, tcp),
    )
    .await
    .map_err(|_| RelayError::Timeout)?
    .map_err(|e| RelayError::Handshake {
        addr,
        source: Arc::new(e),
    })?;
    let (read, write) = tokio::io::split(tls);
    Ok((
        LinkReader {
            read,
            buf: Vec::with_capacity(4096),
            chunk: vec![0; 16 * 1024].into_boxed_slice(),
        },
        LinkWriter {
            write,
            out: Vec::with_capacity(64),
        },
    ))
}

impl LinkWriter {
    /// Writes one frame.
    pub(super) async fn send(&mut self, frame: &Turn2Frame<'_>) -> Result<(), RelayError> {
        self.out.clear();
        frame.encode(&mut self.out).map_err(RelayError::protocol)?;
        self.write
            .write_all(&self.out)
            .await
            .map_err(RelayError::io)?;
        self.write.flush().await.map_err(RelayError::io)
    }

    /// Ends the TLS session (close_notify, then FIN).
    pub(super) async fn shutdown(&mut self) {
        let _ = self.write.shutdown().await;
    }
}

impl LinkReader {
    /// The next whole frame already buffered, if any.
    pub(super) fn buffered_frame(&mut self) -> Result<Option<Incoming>, RelayError> {
        let Some((frame, used)) = Turn2Frame::decode(&self.buf).map_err(RelayError::protocol)?
        else {
            return Ok(None);
        };
        let incoming = match frame {
            Turn2Frame::Allocation {
                inbound,
                outbound,
                lifetime,
            } => Incoming::Allocation(Allocation {
                inbound,
                outbound,
                lifetime,
            }),
            Turn2Frame::Relayed { source, packet } => {
                Incoming::Relayed(source, Bytes::copy_from_slice(packet))
            }
            Turn2Frame::Error { code, reason } => {
                Incoming::Error(RelayError::from_code(code, reason))
            }
            Turn2Frame::Register { .. } | Turn2Frame::Refresh { .. } => {
                return Err(RelayError::Protocol(
                    "the relay sent a client-to-relay frame".into(),
                ));
            }
            Turn2Frame::Unknown { .. } => Incoming::Ignored,
        };
        self.buf.drain(..used);
        Ok(Some(incoming))
    }

    /// Reads more bytes into the buffer. Cancel-safe (a cancelled read loses nothing).
    /// `Err(Closed)` at the end of the stream.
    pub(super) async fn fill(&mut self) -> Result<(), RelayError> {
        let n = self.read.read(&mut self.chunk).await.map_err(|e| {
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
            ) {
                RelayError::Closed
            } else {
                RelayError::io(e)
            }
        })?;
        if n == 0 {
            return Err(RelayError::Closed);
        }
        self.buf
            .extend_from_slice(self.chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// The next frame, reading as needed.
    pub(super) async fn next(&mut self) -> Result<Incoming, RelayError> {
        loop {
            if let Some(frame) = self.buffered_frame()? {
                return Ok(frame);
            }
            self.fill().await?;
        }
    }
}
