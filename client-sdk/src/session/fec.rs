//! Forward error correction on the publishing side (draft §5.4, §6.3; PROTOCOL.md §16): a
//! [`FecSender`] owns the FEC stream's [`Publisher`] and the sans-IO
//! [`FecEncoder`](crate::media::fec::FecEncoder); the protected publishers hand it every
//! message they send, and it sends the repair messages when a block closes (k messages, or
//! the FEC window). The run-loop contract is [`crate::media::fec`]'s.

use super::SessionError;
use super::publisher::Publisher;
use crate::clock;
use crate::media::fec::{FecEncoder, FecEncoderConfig, MAX_REPAIR_OVERHEAD, Repair};
use crate::media::{Frame, MediaKind};
use bytes::Bytes;
use newmedia_proto::ids::GlobalEncodingId;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Room left in a FEC message for its RTP3 headers (the full set included), the payload
/// field and the AEAD tag, bytes.
pub const FEC_MESSAGE_OVERHEAD: usize = 128;

/// The FEC stream of one source and the encoder that feeds it.
#[derive(Debug)]
pub struct FecSender {
    publisher: Publisher,
    encoder: Mutex<FecEncoder>,
    wake: Arc<Notify>,
}

impl FecSender {
    /// A sender for the FEC stream `publisher` repairing `protected`, with blocks closed at
    /// `window_ms` (default 200 ms when `None`). Returns it and the datagram size the
    /// protected publishers must keep to (see [`Publisher::set_fec`]).
    pub fn start(
        publisher: Publisher,
        protected: impl IntoIterator<Item = GlobalEncodingId>,
        window_ms: Option<u32>,
    ) -> Result<(Arc<Self>, usize), SessionError> {
        let max = publisher
            .flow()
            .max_datagram_size()
            .ok_or(SessionError::DatagramsUnsupported)?;
        let payload = max.saturating_sub(FEC_MESSAGE_OVERHEAD);
        let config = FecEncoderConfig::default()
            .window_ms(window_ms.unwrap_or(200))
            .max_repair_payload(payload);
        let source_len = payload.saturating_sub(MAX_REPAIR_OVERHEAD);
        let encoder = FecEncoder::new(config, protected).map_err(SessionError::Fec)?;
        let sender = Arc::new(Self {
            publisher,
            encoder: Mutex::new(encoder),
            wake: Arc::new(Notify::new()),
        });
        tokio::spawn(close_blocks_on_time(Arc::downgrade(&sender)));
        Ok((sender, source_len))
    }

    /// The FEC stream's publisher.
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Takes the protected messages just sent (final sealed bytes, in sequence order) and
    /// sends the repairs of every block they close.
    pub(crate) fn protect(&self, sent: &[Bytes]) -> Result<(), SessionError> {
        let mut repairs = Vec::new();
        {
            let mut encoder = self.encoder.lock().map_err(|_| SessionError::Poisoned)?;
            let now = clock::now();
            for m in sent {
                encoder
                    .push(m, now, &mut |r| repairs.push(r))
                    .map_err(SessionError::Fec)?;
            }
        }
        self.wake.notify_one();
        self.send_repairs(repairs)
    }

    fn send_repairs(&self, repairs: Vec<Repair>) -> Result<(), SessionError> {
        for r in repairs {
            let frame = Frame {
                payload: &r.payload,
                capture_time: r.capture_time.unwrap_or_else(clock::ntp_millis),
                reference: false,
                layer_id: None,
                active_level: None,
            };
            for d in self.publisher.packetize(&frame)? {
                // Behind the block's source messages, in the video queue.
                self.publisher.flow().send_media(MediaKind::Video, d)?;
            }
        }
        Ok(())
    }
}

/// Closes blocks whose window passed without filling, until the sender is dropped.
async fn close_blocks_on_time(sender: std::sync::Weak<FecSender>) {
    loop {
        let Some(s) = sender.upgrade() else { return };
        let mut repairs = Vec::new();
        let next = match s.encoder.lock() {
            Ok(mut e) => {
                let _ = e.handle_timeout(clock::now(), &mut |r| repairs.push(r));
                e.poll_timeout()
            }
            Err(_) => return,
        };
        if s.send_repairs(repairs).is_err() {
            return;
        }
        let notify = s.wake.clone();
        let wake = notify.notified();
        tokio::pin!(wake);
        // Register for a wake-up before letting go, so a push meanwhile is not missed.
        wake.as_mut().enable();
        let closed = s.publisher.flow().connection().clone();
        drop(s);
        tokio::select! {
            () = &mut wake => {}
            () = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = closed.closed() => return,
        }
    }
}
