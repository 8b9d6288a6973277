//! Data streams (draft §5.3, §6.4 "a way to send a data message and indicate reliable or
//! unreliable transmission"): messages are sealed RTP3 messages like media; unreliable ones go
//! as datagrams, reliable ones on QUIC streams that the SFU forwards (docs/contracts.md §1):
//! one ordered stream per encoding, or one stream per message when order does not matter.
//! Receiving is a [`Subscription`](super::Subscription) to the data encoding: its frames are
//! the messages.

use super::SessionError;
use super::publisher::{OutgoingFrame, Publisher};
use crate::clock;
use crate::codec::data::DataCodec;
use crate::media::Frame;
use crate::transport::DataStream;
use bytes::Bytes;
use tokio::sync::Mutex;

/// Sends the messages of one data encoding.
#[derive(Debug)]
pub struct DataPublisher {
    publisher: Publisher,
    ordered: Mutex<Option<DataStream>>,
    packetize: std::sync::Mutex<()>,
}

impl DataPublisher {
    /// Wraps a publisher made with [`PublisherKind::Data`](super::PublisherKind::Data).
    pub fn new(publisher: Publisher) -> Self {
        Self {
            publisher,
            ordered: Mutex::new(None),
            packetize: std::sync::Mutex::new(()),
        }
    }

    /// The underlying publisher (IDs, pause, metrics).
    pub fn publisher(&self) -> &Publisher {
        &self.publisher
    }

    /// Sends one message with the delivery `codec` asks for: unreliable as datagrams,
    /// reliable on the encoding's ordered stream or on a stream of its own.
    pub async fn send(&self, message: &[u8], codec: DataCodec) -> Result<(), SessionError> {
        if !codec.reliable {
            let frame = OutgoingFrame::new(message, clock::ntp_millis());
            self.publisher.send(&frame).await?;
            return Ok(());
        }
        let sealed = self.seal(message)?;
        let flow = self.publisher.flow();
        if codec.ordered {
            let mut stream = self.ordered.lock().await;
            if stream.is_none() {
                *stream = Some(flow.open_data_stream(true).await?);
            }
            if let Some(s) = stream.as_mut() {
                for m in &sealed {
                    s.write_message(m).await?;
                }
            }
        } else {
            for m in &sealed {
                let mut s = flow.open_data_stream(false).await?;
                s.write_message(m).await?;
            }
        }
        Ok(())
    }

    /// Ends the ordered stream (if one was opened) and waits until the SFU has all of it.
    /// Call before leaving so no reliable message is lost.
    pub async fn flush(&self) {
        if let Some(s) = self.ordered.lock().await.as_mut() {
            s.finish_and_wait().await;
        }
    }

    fn seal(&self, message: &[u8]) -> Result<Vec<Bytes>, SessionError> {
        // Held so the messages of one data message stay consecutive in sequence order.
        let _one_at_a_time = self.packetize.lock().map_err(|_| SessionError::Poisoned)?;
        let frame = Frame {
            payload: message,
            capture_time: clock::ntp_millis(),
            reference: false,
            layer_id: None,
            active_level: None,
        };
        self.publisher.packetize(&frame)
    }
}
