//! One allocation's task: relays every datagram that reaches its inbound socket, and
//! releases the allocation when its lifetime runs out.

use super::Relay;
use super::client::{Client, Expiry};
use std::sync::Arc;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65_535;

/// Runs until the allocation expires (then releases it) or is released (then it is aborted).
pub(super) async fn run(
    relay: Relay,
    client: Arc<Client>,
    id: u64,
    socket: tokio::net::UdpSocket,
    expiry: Arc<Expiry>,
) {
    let stats = &relay.inner.stats;
    // One buffer for the allocation's life; each datagram is copied once, into its frame.
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let deadline = expiry.deadline();
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, source)) => {
                    let packet = buf.get(..len).unwrap_or_default();
                    client.relay(crate::transport::canonical_addr(source), packet, stats);
                }
                // ICMP errors surface here on some platforms; the socket is still fine.
                Err(error) => tracing::debug!(%error, "TURN2 inbound receive failed"),
            },
            _ = tokio::time::sleep_until(deadline) => {
                if expiry.deadline() <= tokio::time::Instant::now() {
                    tracing::info!("TURN2 allocation expired");
                    client.release_if(id, stats);
                    relay.tidy(&client.fingerprint);
                    return;
                }
            }
            _ = expiry.changed.notified() => {}
        }
    }
}
