//! A minimal SFU client for tests, benchmarks and tools. Applications use the
//! `newmedia-client` SDK instead; this one only connects, speaks the control protocol and
//! moves raw datagrams, so tests can see exactly what the SFU does.

use crate::admission::tls::{Identity, TlsError, client_crypto};
use crate::forward::data_stream::{DataStreamError, DataStreamReader, StreamKind, encode_frame};
use bytes::Bytes;
use newmedia_proto::control::{
    Capabilities, ControlError, ControlMessage, ControlReader, Decoded, Hello,
};
use newmedia_proto::turn2::{ErrorCode as Turn2Code, Turn2Error, Turn2Frame};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Why a test client failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// TLS setup.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Connecting.
    #[error("connect: {0}")]
    Connect(#[from] quinn::ConnectError),
    /// The connection failed or was closed.
    #[error("connection: {0}")]
    Connection(#[from] quinn::ConnectionError),
    /// Writing the control stream.
    #[error("control stream write: {0}")]
    Write(#[from] quinn::WriteError),
    /// Reading the control stream.
    #[error("control stream read: {0}")]
    Read(#[from] quinn::ReadError),
    /// The control stream ended.
    #[error("control stream closed")]
    ControlClosed,
    /// A control frame did not decode.
    #[error("control: {0}")]
    Control(#[from] ControlError),
    /// The SFU refused the connection; its Error message says why.
    #[error("refused: {0}")]
    Refused(String),
    /// Sending a datagram.
    #[error("datagram: {0}")]
    Datagram(#[from] quinn::SendDatagramError),
    /// Local socket.
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
    /// A data stream broke its framing (PROTOCOL.md §13).
    #[error("data stream: {0}")]
    DataStream(#[from] DataStreamError),
    /// Opening or accepting a stream failed.
    #[error("stream: {0}")]
    Stream(#[from] quinn::ClosedStream),
    /// A TURN2 frame did not decode or encode.
    #[error("TURN2: {0}")]
    Turn2(#[from] Turn2Error),
}

/// A client endpoint on `bind` (e.g. `127.0.0.1:0`), with QUIC bit greasing off like every
/// newmedia endpoint, so STUN2 can share its socket.
pub fn client_endpoint(bind: SocketAddr) -> Result<quinn::Endpoint, ClientError> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(bind),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    // Many connections share this socket in benchmarks: the kernel default receive buffer
    // (~200 KiB) overflows in a millisecond at their rates. Best effort, like the SFU's.
    let _ = socket.set_recv_buffer_size(crate::transport::SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(crate::transport::SOCKET_BUFFER_BYTES);
    socket.bind(&bind.into())?;
    let socket: std::net::UdpSocket = socket.into();
    let mut config = quinn::EndpointConfig::default();
    config.grease_quic_bit(false);
    Ok(quinn::Endpoint::new(
        config,
        None,
        socket,
        Arc::new(quinn::TokioRuntime),
    )?)
}

/// A connected, admitted client.
#[derive(Debug)]
pub struct TestClient {
    /// The QUIC connection.
    pub conn: quinn::Connection,
    /// The SFU's Hello (its endpoint ID is the one we were admitted as).
    pub sfu_hello: Hello,
    send: quinn::SendStream,
    recv: quinn::RecvStream,
    reader: ControlReader,
    buf: Vec<u8>,
}

impl TestClient {
    /// Connects to the SFU at `server` (pinning `server_fingerprint`), presenting `identity`,
    /// and sends a Hello for `endpoint_id` carrying `grant` if given. Returns once the SFU's
    /// Hello arrives, or [`ClientError::Refused`] with its reason.
    pub async fn connect(
        endpoint: &quinn::Endpoint,
        server: SocketAddr,
        server_fingerprint: [u8; 32],
        identity: &Identity,
        endpoint_id: u64,
        grant: Option<Vec<u8>>,
    ) -> Result<Self, ClientError> {
        let crypto = client_crypto(identity, server_fingerprint)?;
        let mut config = quinn::ClientConfig::new(crypto);
        let mut transport = quinn::TransportConfig::default();
        transport.keep_alive_interval(Some(Duration::from_secs(5)));
        transport.datagram_receive_buffer_size(Some(4 << 20));
        config.transport_config(Arc::new(transport));
        let conn = endpoint
            .connect_with(config, server, "newmedia-sfu")?
            .await?;
        let (mut send, recv) = conn.open_bi().await?;
        let mut hello = Hello::new(endpoint_id, Capabilities::NONE);
        hello.grant = grant;
        send.write_all(&ControlMessage::Hello(hello).to_vec()?)
            .await?;
        let mut client = Self {
            conn,
            sfu_hello: Hello::new(0, Capabilities::NONE),
            send,
            recv,
            reader: ControlReader::new(),
            buf: vec![0; 8192],
        };
        match client.next_control().await {
            Ok(ControlMessage::Hello(h)) => {
                client.sfu_hello = h;
                Ok(client)
            }
            Ok(ControlMessage::Error(e)) => Err(ClientError::Refused(e.text)),
            Ok(other) => Err(ClientError::Refused(format!("unexpected {}", other.name()))),
            Err(ClientError::Control(ControlError::HelloNotFirst { .. })) => {
                // The SFU's first frame was an Error: read it for the reason.
                Err(ClientError::Refused("refused before Hello".into()))
            }
            Err(e) => Err(e),
        }
    }

    /// Sends a control message.
    pub async fn send_control(&mut self, message: ControlMessage) -> Result<(), ClientError> {
        self.send.write_all(&message.to_vec()?).await?;
        Ok(())
    }

    /// The next control message from the SFU (unknown frame types are skipped).
    pub async fn next_control(&mut self) -> Result<ControlMessage, ClientError> {
        loop {
            match self.reader.next_message() {
                Ok(Some(Decoded::Message(m))) => return Ok(m),
                Ok(Some(Decoded::Unknown { .. })) => continue,
                Ok(None) => {}
                Err(e) => return Err(e.into()),
            }
            let n = self
                .recv
                .read(&mut self.buf)
                .await?
                .ok_or(ClientError::ControlClosed)?;
            self.reader.push(self.buf.get(..n).unwrap_or_default());
        }
    }

    /// Sends one datagram (an RTP3 message).
    pub fn send_datagram(&self, datagram: Bytes) -> Result<(), ClientError> {
        Ok(self.conn.send_datagram(datagram)?)
    }

    /// The next datagram from the SFU.
    pub async fn recv_datagram(&self) -> Result<Bytes, ClientError> {
        Ok(self.conn.read_datagram().await?)
    }

    /// Opens an ordered or single-message data stream (PROTOCOL.md §13) and writes its kind
    /// byte.
    pub async fn open_data_stream(
        &self,
        kind: StreamKind,
    ) -> Result<DataStreamWriter, ClientError> {
        let mut send = self.conn.open_uni().await?;
        send.write_all(&[kind.byte()]).await?;
        Ok(DataStreamWriter {
            send,
            buf: Vec::new(),
        })
    }

    /// Sends one message on a stream of its own (kind `0x11`) and finishes the stream.
    pub async fn send_single_message(&self, message: &[u8]) -> Result<(), ClientError> {
        let mut stream = self.open_data_stream(StreamKind::Single).await?;
        stream.send(message).await?;
        stream.finish()
    }

    /// The next data stream the SFU opens toward this client.
    pub async fn accept_data_stream(&self) -> Result<DataStreamReceiver, ClientError> {
        let recv = self.conn.accept_uni().await?;
        Ok(DataStreamReceiver {
            recv,
            reader: DataStreamReader::new(),
        })
    }
}

/// The sending side of one data stream.
#[derive(Debug)]
pub struct DataStreamWriter {
    send: quinn::SendStream,
    buf: Vec<u8>,
}

impl DataStreamWriter {
    /// Writes one frame carrying `message`.
    pub async fn send(&mut self, message: &[u8]) -> Result<(), ClientError> {
        self.buf.clear();
        encode_frame(message, &mut self.buf)?;
        self.send.write_all(&self.buf).await?;
        Ok(())
    }

    /// Ends the stream (FIN).
    pub fn finish(mut self) -> Result<(), ClientError> {
        Ok(self.send.finish()?)
    }

    /// The QUIC stream, e.g. to reset it.
    pub fn stream(&mut self) -> &mut quinn::SendStream {
        &mut self.send
    }
}

/// The receiving side of one data stream.
#[derive(Debug)]
pub struct DataStreamReceiver {
    recv: quinn::RecvStream,
    reader: DataStreamReader,
}

impl DataStreamReceiver {
    /// The stream's kind, once its first byte has arrived.
    pub fn kind(&self) -> Option<StreamKind> {
        self.reader.kind()
    }

    /// The next message, `None` at the end of the stream. A reset arrives as
    /// [`ClientError::Read`] with `quinn::ReadError::Reset(code)`.
    pub async fn next_message(&mut self) -> Result<Option<Bytes>, ClientError> {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(frame) = self.reader.next_frame()? {
                return Ok(Some(frame.message()));
            }
            self.reader.buffer_mut().reserve(16 * 1024);
            let n = self
                .recv
                .read_buf(self.reader.buffer_mut())
                .await
                .map_err(|e| match e.downcast::<quinn::ReadError>() {
                    Ok(read) => ClientError::Read(read),
                    Err(io) => ClientError::Io(io),
                })?;
            if n == 0 {
                self.reader.finish()?;
                return Ok(None);
            }
        }
    }
}

/// A TURN2 frame from the relay, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayFrame {
    /// Allocation: inbound, outbound, lifetime (0 = released).
    Allocation {
        /// Where datagrams for the client go.
        inbound: SocketAddr,
        /// Where the client connects.
        outbound: SocketAddr,
        /// Seconds.
        lifetime: u32,
    },
    /// One datagram that reached the inbound address.
    Relayed {
        /// Its source address.
        source: SocketAddr,
        /// Its payload.
        packet: Vec<u8>,
    },
    /// Error.
    Error {
        /// The code.
        code: Turn2Code,
        /// The reason.
        reason: String,
    },
    /// A frame type the client does not expect.
    Other {
        /// Its type.
        kind: u64,
    },
}

/// A raw TURN2 client over TLS, for tests and tools (the SDK's `newmedia_client::relay` is
/// the real one).
#[derive(Debug)]
pub struct Turn2TestClient {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    buf: Vec<u8>,
    fingerprint: [u8; 32],
}

impl Turn2TestClient {
    /// Connects to the relay at `relay` pinning `relay_fingerprint`, presenting `identity`.
    pub async fn connect(
        relay: SocketAddr,
        relay_fingerprint: [u8; 32],
        identity: &Identity,
    ) -> Result<Self, ClientError> {
        let config = crate::admission::tls::tcp_client_config(identity, relay_fingerprint)?;
        let tcp = tokio::net::TcpStream::connect(relay).await?;
        let name = rustls::pki_types::ServerName::IpAddress(relay.ip().into());
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        Ok(Self {
            stream,
            buf: Vec::new(),
            fingerprint: identity.fingerprint(),
        })
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &Turn2Frame<'_>) -> Result<(), ClientError> {
        let mut out = Vec::new();
        frame.encode(&mut out)?;
        self.send_raw(&out).await
    }

    /// Sends raw bytes (to test malformed input).
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Sends Register with this client's own fingerprint.
    pub async fn register(&mut self, lifetime: Option<u32>) -> Result<(), ClientError> {
        let fingerprint = self.fingerprint;
        self.send(&Turn2Frame::Register {
            fingerprint,
            lifetime,
        })
        .await
    }

    /// The next frame, `None` when the relay closed the connection.
    pub async fn next_frame(&mut self) -> Result<Option<RelayFrame>, ClientError> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some((frame, used)) = Turn2Frame::decode(&self.buf)? {
                let owned = match frame {
                    Turn2Frame::Allocation {
                        inbound,
                        outbound,
                        lifetime,
                    } => RelayFrame::Allocation {
                        inbound,
                        outbound,
                        lifetime,
                    },
                    Turn2Frame::Relayed { source, packet } => RelayFrame::Relayed {
                        source,
                        packet: packet.to_vec(),
                    },
                    Turn2Frame::Error { code, reason } => RelayFrame::Error {
                        code,
                        reason: reason.to_owned(),
                    },
                    other => RelayFrame::Other { kind: other.kind() },
                };
                self.buf.drain(..used);
                return Ok(Some(owned));
            }
            match self.stream.read(&mut chunk).await {
                Ok(0) => return Ok(None),
                Ok(n) => self
                    .buf
                    .extend_from_slice(chunk.get(..n).unwrap_or_default()),
                // A relay that closes without close_notify, or resets: the end as well.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
