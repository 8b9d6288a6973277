//! Downlink checks (docs/contracts.md §3.2): the node sends a STUN2 request from its media
//! socket to a client candidate (or the client's relay), and once the controller proves the
//! client received it, redirects everything it sends to the client's observed address there.

use super::stats::{SnowflakeStats, inc};
use crate::transport::{RedirectTable, SharedUdpSocket, StunResponseObserver, canonical_addr};
use dashmap::DashMap;
use newmedia_proto::stun2::{
    SenderSecret, Stun2Keys, Stun2Request, Stun2Response, Transaction, TransactionConfig,
    TransactionId, transaction_id,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::Notify;

/// Bytes of the random sender secret the node puts in its requests.
pub const SENDER_SECRET_LEN: usize = 16;
/// Checks remembered at once; more are refused until old ones are forgotten.
pub const MAX_CHECKS: usize = 4096;
/// How long a check is remembered for `POST /v1/downlinks` after it was ordered.
pub const REMEMBER: Duration = Duration::from_secs(120);

/// Why a downlink check could not be started or a downlink installed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DownlinkError {
    /// A live check has this ID already.
    #[error("check {0} exists already")]
    DuplicateCheck(String),
    /// Too many checks are remembered.
    #[error("too many checks in progress")]
    TooManyChecks,
    /// No remembered check has this ID.
    #[error("no such check")]
    UnknownCheck,
    /// The sender secret is not the one the node sent.
    #[error("the sender secret does not match the check's")]
    SecretMismatch,
    /// The sender secret is not hex.
    #[error("senderSecret must be hex")]
    BadSecret,
    /// The media sockets are not up yet.
    #[error("the media sockets are not ready")]
    NotReady,
}

#[derive(Debug)]
struct Check {
    id: String,
    to: SocketAddr,
    transaction_id: TransactionId,
    sender_secret: [u8; SENDER_SECRET_LEN],
    keys: Stun2Keys,
    /// Stops the retransmissions (a response arrived, or the downlink was installed).
    done: Notify,
    answered: AtomicBool,
}

/// The node's downlink checks and the downlinks they installed.
#[derive(Debug, Default)]
pub struct DownlinkChecks {
    checks: DashMap<String, Arc<Check>>,
    by_transaction: DashMap<TransactionId, Arc<Check>>,
    sockets: OnceLock<Vec<Arc<SharedUdpSocket>>>,
    redirects: OnceLock<RedirectTable>,
    pub(super) stats: Arc<SnowflakeStats>,
}

impl DownlinkChecks {
    /// No checks; sends nothing until [`attach`](Self::attach)ed to the media sockets.
    pub fn new(stats: Arc<SnowflakeStats>) -> Self {
        Self {
            stats,
            ..Self::default()
        }
    }

    /// The sockets to send from and the redirect table they read (once; later calls are
    /// ignored).
    pub fn attach(&self, sockets: Vec<Arc<SharedUdpSocket>>, redirects: RedirectTable) {
        let _ = self.sockets.set(sockets);
        let _ = self.redirects.set(redirects);
    }

    /// The Snowflake counters (shared with registration and reports).
    pub fn stats(&self) -> super::SnowflakeStatsSnapshot {
        self.stats.snapshot()
    }

    /// The redirect table (after [`attach`](Self::attach)).
    pub fn redirects(&self) -> Option<&RedirectTable> {
        self.redirects.get()
    }

    /// Orders a check: a STUN2 request to `to` keyed by `stun_secret` with a fresh random
    /// sender secret, retransmitted on the `stun2::Transaction` schedule until a response
    /// arrives, the downlink is installed, or the schedule ends. Remembered for
    /// [`REMEMBER`].
    pub fn start(
        self: &Arc<Self>,
        check_id: &str,
        to: SocketAddr,
        stun_secret: &str,
    ) -> Result<(), DownlinkError> {
        let socket = self
            .sockets
            .get()
            .and_then(|s| s.first())
            .cloned()
            .ok_or(DownlinkError::NotReady)?;
        if self.checks.len() >= MAX_CHECKS {
            return Err(DownlinkError::TooManyChecks);
        }
        use rand::RngCore as _;
        let mut id = [0u8; 12];
        let mut secret = [0u8; SENDER_SECRET_LEN];
        rand::rngs::OsRng.fill_bytes(&mut id);
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let keys = Stun2Keys::new(stun_secret.as_bytes());
        let check = Arc::new(Check {
            id: check_id.to_owned(),
            to: canonical_addr(to),
            transaction_id: TransactionId(id),
            sender_secret: secret,
            keys,
            done: Notify::new(),
            answered: AtomicBool::new(false),
        });
        match self.checks.entry(check_id.to_owned()) {
            dashmap::Entry::Occupied(_) => {
                return Err(DownlinkError::DuplicateCheck(check_id.to_owned()));
            }
            dashmap::Entry::Vacant(v) => {
                v.insert(check.clone());
            }
        }
        self.by_transaction
            .insert(check.transaction_id, check.clone());
        inc(&self.stats.downlink_checks);
        let request = Stun2Request {
            transaction_id: check.transaction_id,
            sender_secret: SenderSecret::new(&secret).ok(),
        };
        let now = tokio::time::Instant::now();
        let transaction = Transaction::new(
            &check.keys,
            &request,
            to,
            now.into_std(),
            TransactionConfig::default(),
        );
        tokio::spawn(run_check(self.clone(), check, transaction, socket, now));
        Ok(())
    }

    /// Installs the downlink of check `check_id` if `sender_secret` (hex) is the one the node
    /// sent: from now on packets to `observed` go to the check's `to`. Returns that address.
    pub fn install(
        &self,
        check_id: &str,
        sender_secret: &str,
        observed: SocketAddr,
    ) -> Result<SocketAddr, DownlinkError> {
        let check = self
            .checks
            .get(check_id)
            .map(|c| c.clone())
            .ok_or(DownlinkError::UnknownCheck)?;
        let presented = hex::decode(sender_secret).map_err(|_| DownlinkError::BadSecret)?;
        if !constant_time_eq(&presented, &check.sender_secret) {
            return Err(DownlinkError::SecretMismatch);
        }
        let redirects = self.redirects.get().ok_or(DownlinkError::NotReady)?;
        redirects.set(observed, check.to);
        check.done.notify_one();
        inc(&self.stats.downlinks_installed);
        tracing::info!(check = %check.id, %observed, to = %check.to, "downlink installed");
        Ok(check.to)
    }

    /// Removes the downlink of `observed`; whether there was one.
    pub fn remove(&self, observed: SocketAddr) -> bool {
        self.redirects
            .get()
            .is_some_and(|r| r.remove(observed).is_some())
    }

    /// Whether the check's request was answered (a response opened under its keys).
    pub fn answered(&self, check_id: &str) -> Option<bool> {
        self.checks.get(check_id).map(|c| c.answered.load(Relaxed))
    }

    fn forget(&self, check: &Arc<Check>) {
        self.checks
            .remove_if(&check.id, |_, c| Arc::ptr_eq(c, check));
        self.by_transaction
            .remove_if(&check.transaction_id, |_, c| Arc::ptr_eq(c, check));
    }
}

impl StunResponseObserver for DownlinkChecks {
    fn observe_response(&self, datagram: &[u8], _from: SocketAddr) -> bool {
        let Some(id) = transaction_id(datagram) else {
            return false;
        };
        let Some(check) = self.by_transaction.get(&id).map(|c| c.clone()) else {
            return false;
        };
        if Stun2Response::decode(&check.keys, datagram).is_err() {
            return false;
        }
        if !check.answered.swap(true, Relaxed) {
            inc(&self.stats.downlink_responses);
        }
        check.done.notify_one();
        true
    }
}

/// Sends and resends one check's request, then forgets the check after [`REMEMBER`].
async fn run_check(
    checks: Arc<DownlinkChecks>,
    check: Arc<Check>,
    mut transaction: Transaction,
    socket: Arc<SharedUdpSocket>,
    started: tokio::time::Instant,
) {
    let mut datagram = Vec::new();
    loop {
        let now = tokio::time::Instant::now().into_std();
        transaction.handle_timeout(now);
        while let Some(transmit) = transaction.poll_transmit(now) {
            let destination = transmit.destination;
            datagram.clear();
            datagram.extend_from_slice(transmit.contents);
            if let Err(error) = socket.send_to(destination, &datagram).await {
                tracing::debug!(%error, %destination, "downlink check send failed");
            }
            inc(&checks.stats.downlink_requests_sent);
        }
        let Some(next) = transaction.poll_timeout() else {
            break;
        };
        tokio::select! {
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(next)) => {}
            _ = check.done.notified() => break,
        }
    }
    tokio::time::sleep_until(started + REMEMBER).await;
    checks.forget(&check);
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
