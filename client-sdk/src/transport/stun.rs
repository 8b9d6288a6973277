//! The client's STUN2 agent (draft §3.2): runs our requests (reflexive-address discovery and
//! Snowflake checks) and answers the requests others send us, reporting each one that carries
//! a sender secret so the application can tell the controller (draft §3.1: "the receiver
//! notifies the controller about information on received STUN2 packets").
//!
//! Responses and requests reach the agent from the [`ClientSocket`](super::ClientSocket)'s
//! receive path, which must never block: responses complete a `oneshot`, received checks go
//! into a bounded channel (dropped and counted when the application does not keep up).

use super::socket::ClientSocket;
use super::stats::SocketStats;
use crate::clock;
use newmedia_proto::stun2::{
    SenderSecret, Stun2Error, Stun2Keys, Stun2Request, Stun2Response, Transaction,
    TransactionConfig, TransactionId, TransactionState, transaction_id,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

/// Received checks buffered for the application before new ones are dropped.
pub const CHECK_QUEUE: usize = 256;

/// Why a STUN2 transaction failed.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StunError {
    /// No response within the transaction's retransmission schedule.
    #[error("no STUN2 response from {destination} after {sends} requests")]
    TimedOut {
        /// Where the requests went.
        destination: SocketAddr,
        /// How many were sent.
        sends: u32,
    },
    /// The sender secret is too long (more than 255 bytes).
    #[error("sender secret: {0}")]
    Secret(Stun2Error),
    /// The socket was closed (the endpoint rebound or shut down mid-transaction).
    #[error("the socket closed during the transaction")]
    Closed,
}

/// Where a STUN2 packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunSource {
    /// Straight to our socket.
    Direct {
        /// The packet's source address.
        source: SocketAddr,
        /// Our address it was sent to, when the socket reports it.
        local_ip: Option<IpAddr>,
    },
    /// Through our TURN2 relay allocation.
    Relayed {
        /// The packet's original source.
        source: SocketAddr,
        /// The relay's inbound address it was sent to.
        via: SocketAddr,
    },
}

/// A STUN2 request with a sender secret that we received and answered: what a Snowflake
/// receiver reports to the controller (docs/contracts.md §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedCheck {
    /// The request's source address.
    pub from: SocketAddr,
    /// Where it was sent: our socket's address, or the relay inbound address it came through.
    pub to: SocketAddr,
    /// Whether it came through a TURN2 relay.
    pub relayed: bool,
    /// The request's transaction ID.
    pub transaction_id: TransactionId,
    /// The sender's secret, the proof of receipt.
    pub sender_secret: SenderSecret,
}

/// The result of a successful transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunOutcome {
    /// Our address as the far side saw it (server-reflexive when there is a NAT).
    pub observed: SocketAddr,
    /// Round-trip time, when the first request was the one answered.
    pub rtt: Option<Duration>,
}

#[derive(Debug)]
struct Pending {
    keys: Stun2Keys,
    done: oneshot::Sender<Stun2Response>,
}

/// Our STUN2 requests in flight and the secret others' requests to us must open under.
#[derive(Debug)]
pub(crate) struct StunAgent {
    local_keys: Stun2Keys,
    pending: Mutex<HashMap<TransactionId, Pending>>,
    checks: mpsc::Sender<ReceivedCheck>,
    stats: Arc<SocketStats>,
    config: TransactionConfig,
}

impl StunAgent {
    /// An agent answering requests under `local_secret` (the `stunSecret` of our candidates),
    /// reporting received checks into the returned receiver.
    pub(crate) fn new(
        local_secret: &[u8],
        stats: Arc<SocketStats>,
    ) -> (Self, mpsc::Receiver<ReceivedCheck>) {
        let (checks, rx) = mpsc::channel(CHECK_QUEUE);
        let agent = Self {
            local_keys: Stun2Keys::new(local_secret),
            pending: Mutex::new(HashMap::new()),
            checks,
            stats,
            config: TransactionConfig::default(),
        };
        (agent, rx)
    }

    /// Sets the retransmission schedule of later transactions.
    pub(crate) fn set_transaction_config(&mut self, config: TransactionConfig) {
        self.config = config;
    }

    /// Answers a request to us and reports it if it carries a sender secret.
    pub(crate) fn handle_request(&self, socket: &ClientSocket, datagram: &[u8], from: StunSource) {
        let Ok(request) = Stun2Request::decode(&self.local_keys, datagram) else {
            self.stats.count_stun_bad();
            return;
        };
        let (source, to, relayed) = match from {
            StunSource::Direct { source, local_ip } => {
                let mut to = socket
                    .bound_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
                if let Some(ip) = local_ip {
                    to.set_ip(ip);
                }
                (source, to, false)
            }
            StunSource::Relayed { source, via } => (source, via, true),
        };
        let response = Stun2Response {
            transaction_id: request.transaction_id,
            observed: source,
        };
        let mut out = Vec::with_capacity(64);
        response.encode(&self.local_keys, &mut out);
        // A relayed request is answered straight to its source: we cannot send through the
        // relay (draft §3.3), and the sender learns consent from the controller anyway.
        let _ = socket.send_raw(source, &out);
        self.stats.count_stun_answered();
        if let Some(sender_secret) = request.sender_secret {
            let check = ReceivedCheck {
                from: source,
                to,
                relayed,
                transaction_id: request.transaction_id,
                sender_secret,
            };
            if self.checks.try_send(check).is_ok() {
                self.stats.count_check_reported();
            } else {
                self.stats.count_check_dropped();
            }
        }
    }

    /// Completes the pending transaction a response belongs to.
    pub(crate) fn handle_response(&self, datagram: &[u8]) {
        let Some(id) = transaction_id(datagram) else {
            self.stats.count_stun_unmatched();
            return;
        };
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        // Decode under the keys of the request before removing it: a forged response must
        // not cancel a real transaction.
        let decoded = pending
            .get(&id)
            .and_then(|p| Stun2Response::decode(&p.keys, datagram).ok());
        match decoded {
            Some(response) => {
                if let Some(p) = pending.remove(&id) {
                    let _ = p.done.send(response);
                }
                self.stats.count_stun_response();
            }
            None => self.stats.count_stun_unmatched(),
        }
    }

    /// Runs one transaction from `socket` to `destination` keyed by the destination's
    /// `secret`, with an optional sender secret (a Snowflake check) and transaction ID (the
    /// controller may choose it, to match the receiver's report; random otherwise). Retransmits on the
    /// schedule of proto's [`Transaction`] and resolves with the observed address.
    pub(crate) async fn transact(
        &self,
        socket: &ClientSocket,
        destination: SocketAddr,
        secret: &[u8],
        sender_secret: Option<&[u8]>,
        transaction_id: Option<TransactionId>,
    ) -> Result<StunOutcome, StunError> {
        let sender_secret = sender_secret
            .map(SenderSecret::new)
            .transpose()
            .map_err(StunError::Secret)?;
        let request = Stun2Request {
            transaction_id: transaction_id.unwrap_or_else(|| TransactionId(rand::random())),
            sender_secret,
        };
        let keys = Stun2Keys::new(secret);
        let now = clock::now();
        let mut transaction = Transaction::new(&keys, &request, destination, now, self.config);
        let (done, mut response) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(request.transaction_id, Pending { keys, done });
        }
        let _guard = PendingGuard {
            agent: self,
            id: request.transaction_id,
        };
        loop {
            let now = clock::now();
            while let Some(transmit) = transaction.poll_transmit(now) {
                let _ = socket.send_raw(transmit.destination, transmit.contents);
            }
            transaction.handle_timeout(now);
            match transaction.state() {
                TransactionState::Succeeded { observed, rtt, .. } => {
                    return Ok(StunOutcome { observed, rtt });
                }
                TransactionState::TimedOut => {
                    return Err(StunError::TimedOut {
                        destination,
                        sends: transaction.sends(),
                    });
                }
                TransactionState::InProgress => {}
            }
            let Some(wake) = transaction.poll_timeout() else {
                return Err(StunError::Closed);
            };
            tokio::select! {
                got = &mut response => match got {
                    Ok(r) => { transaction.handle_response(&r, clock::now()); }
                    Err(_) => return Err(StunError::Closed),
                },
                () = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }
}

/// Forgets a transaction however its future ends (completed, timed out or dropped).
struct PendingGuard<'a> {
    agent: &'a StunAgent,
    id: TransactionId,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut pending) = self.agent.pending.lock() {
            pending.remove(&self.id);
        }
    }
}
