//! The task behind a [`RelayClient`](super::RelayClient): reads the relay's frames, delivers
//! relayed datagrams, refreshes at half the lifetime, answers refresh/close requests, and
//! releases the allocation when the client is dropped.

use super::link::{Incoming, LinkReader, LinkWriter};
use super::{Allocation, Command, Counters, RelayError, RelayedPacket, State};
use newmedia_proto::turn2::Turn2Frame;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// Queues a relayed datagram for the consumer, or counts it as dropped. Never waits.
fn deliver(packets: &mpsc::Sender<RelayedPacket>, counters: &Counters, packet: RelayedPacket) {
    if packets.try_send(packet).is_err() {
        counters.dropped.fetch_add(1, Relaxed);
    }
}

/// Reads until the relay answers a Register: the allocation, or its error. Relayed frames
/// that arrive first (an existing allocation) are delivered.
pub(super) async fn await_allocation(
    reader: &mut LinkReader,
    packets: &mpsc::Sender<RelayedPacket>,
    counters: &Counters,
    timeout: Duration,
) -> Result<Allocation, RelayError> {
    tokio::time::timeout(timeout, async {
        loop {
            match reader.next().await? {
                Incoming::Allocation(a) if a.lifetime > 0 => return Ok(a),
                Incoming::Allocation(_) => return Err(RelayError::Released),
                Incoming::Relayed(source, packet) => deliver(packets, counters, (source, packet)),
                Incoming::Error(e) => return Err(e),
                Incoming::Ignored => {}
            }
        }
    })
    .await
    .map_err(|_| RelayError::Timeout)?
}

/// Who waits for the answer to a Refresh this task sent.
#[derive(Debug)]
enum Waiter {
    /// The automatic refresh.
    Timer,
    /// [`RelayClient::refresh`](super::RelayClient::refresh).
    Caller(oneshot::Sender<Result<Allocation, RelayError>>),
    /// [`RelayClient::close`](super::RelayClient::close): waits for lifetime 0.
    Close(oneshot::Sender<Result<(), RelayError>>),
}

pub(super) struct Driver {
    reader: LinkReader,
    writer: LinkWriter,
    packets: mpsc::Sender<RelayedPacket>,
    commands: mpsc::Receiver<Command>,
    state: watch::Sender<State>,
    counters: Arc<Counters>,
    lifetime_request: Option<u32>,
    refresh_at: Option<Instant>,
    waiting: VecDeque<Waiter>,
}

/// When to refresh an allocation granted for `lifetime` seconds: at half of it.
fn half_life(lifetime: u32) -> Option<Instant> {
    (lifetime > 0).then(|| Instant::now() + Duration::from_millis(u64::from(lifetime) * 500))
}

impl Driver {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        reader: LinkReader,
        writer: LinkWriter,
        packets: mpsc::Sender<RelayedPacket>,
        commands: mpsc::Receiver<Command>,
        state: watch::Sender<State>,
        counters: Arc<Counters>,
        lifetime_request: Option<u32>,
        granted: u32,
    ) -> Self {
        Self {
            reader,
            writer,
            packets,
            commands,
            state,
            counters,
            lifetime_request,
            refresh_at: half_life(granted),
            waiting: VecDeque::new(),
        }
    }

    pub(super) async fn run(mut self) {
        let end = loop {
            if let Err(end) = self.handle_buffered() {
                break end;
            }
            let refresh_at = self.refresh_at;
            let refresh = async move {
                match refresh_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                filled = self.reader.fill() => if let Err(end) = filled {
                    break end;
                },
                command = self.commands.recv() => match command {
                    None => {
                        // The client was dropped: release without waiting.
                        let _ = self.writer.send(&Turn2Frame::Refresh { lifetime: Some(0) }).await;
                        break RelayError::Released;
                    }
                    Some(Command::Refresh(tx)) => {
                        if let Err(end) = self.send_refresh(self.lifetime_request).await {
                            let _ = tx.send(Err(end.clone()));
                            break end;
                        }
                        self.waiting.push_back(Waiter::Caller(tx));
                    }
                    Some(Command::Close(tx)) => {
                        if let Err(end) = self.send_refresh(Some(0)).await {
                            let _ = tx.send(Err(end.clone()));
                            break end;
                        }
                        self.waiting.push_back(Waiter::Close(tx));
                    }
                },
                _ = refresh => {
                    self.refresh_at = None;
                    self.counters.refreshes.fetch_add(1, Relaxed);
                    if let Err(end) = self.send_refresh(self.lifetime_request).await {
                        break end;
                    }
                    self.waiting.push_back(Waiter::Timer);
                }
            }
        };
        self.finish(end).await;
    }

    async fn send_refresh(&mut self, lifetime: Option<u32>) -> Result<(), RelayError> {
        self.writer.send(&Turn2Frame::Refresh { lifetime }).await
    }

    /// Handles every frame already buffered; `Err` ends the connection.
    fn handle_buffered(&mut self) -> Result<(), RelayError> {
        while let Some(incoming) = self.reader.buffered_frame()? {
            self.handle(incoming)?;
        }
        Ok(())
    }

    fn handle(&mut self, incoming: Incoming) -> Result<(), RelayError> {
        match incoming {
            Incoming::Relayed(source, packet) => {
                deliver(&self.packets, &self.counters, (source, packet));
            }
            Incoming::Allocation(a) if a.lifetime == 0 => {
                // Released: on our request, by expiry, or withdrawn by the relay.
                for waiter in self.waiting.drain(..) {
                    match waiter {
                        Waiter::Close(tx) => {
                            let _ = tx.send(Ok(()));
                        }
                        Waiter::Caller(tx) => {
                            let _ = tx.send(Err(RelayError::Released));
                        }
                        Waiter::Timer => {}
                    }
                }
                return Err(RelayError::Released);
            }
            Incoming::Allocation(a) => {
                self.refresh_at = half_life(a.lifetime);
                self.state.send_modify(|s| s.allocation = Some(a));
                // The answer to the oldest Refresh (a pending release waits for lifetime 0).
                if !matches!(self.waiting.front(), Some(Waiter::Close(_)) | None)
                    && let Some(Waiter::Caller(tx)) = self.waiting.pop_front()
                {
                    let _ = tx.send(Ok(a));
                }
            }
            Incoming::Error(e) => {
                tracing::warn!(error = %e, "relay error");
                match self.waiting.pop_front() {
                    Some(Waiter::Caller(tx)) => {
                        let _ = tx.send(Err(e.clone()));
                    }
                    Some(Waiter::Close(tx)) => {
                        let _ = tx.send(Err(e.clone()));
                        return Err(e);
                    }
                    Some(Waiter::Timer) | None => {}
                }
                // No allocation any more, or the relay is closing: the end.
                if matches!(
                    e,
                    RelayError::NoAllocation { .. } | RelayError::MalformedFrame { .. }
                ) {
                    return Err(e);
                }
            }
            Incoming::Ignored => {}
        }
        Ok(())
    }

    async fn finish(mut self, end: RelayError) {
        for waiter in self.waiting.drain(..) {
            match waiter {
                Waiter::Caller(tx) => {
                    let _ = tx.send(Err(end.clone()));
                }
                Waiter::Close(tx) => {
                    let _ = tx.send(Err(end.clone()));
                }
                Waiter::Timer => {}
            }
        }
        tracing::debug!(reason = %end, "relay connection ends");
        self.state.send_modify(|s| {
            s.allocation = None;
            s.ended = Some(end);
        });
        self.writer.shutdown().await;
    }
}
