//! The client side of one STUN2 transaction as a sans-IO state machine: when to send and
//! resend the request, and when to give up.
//!
//! Run loop contract (str0m/quinn style): after creating the transaction and after every
//! input, call [`Transaction::poll_transmit`] until it returns `None` and send each datagram;
//! then wake up at [`Transaction::poll_timeout`] and call [`Transaction::handle_timeout`].
//! Feed every decoded response whose transaction ID matches (see [`super::transaction_id`]) to
//! [`Transaction::handle_response`]. The transaction is over when [`Transaction::state`] is no
//! longer [`TransactionState::InProgress`].
//!
//! The timers are libwebrtc's STUN timers (`p2p/base/stun_request.cc`), which the draft asks
//! for ("the same retransmission and congestion algorithms as STUN in WebRTC 1.0"): the first
//! wait is 250 ms, each wait doubles, capped at 8 s; the request is sent 9 times (at 0, 250,
//! 750, 1750, 3750, 7750, 15750, 23750 and 31750 ms) and the transaction fails 8 s after the
//! last send, at 39750 ms.

use super::{Stun2Keys, Stun2Request, Stun2Response, TransactionId};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

/// Retransmission settings of a [`Transaction`]. `Default` gives libwebrtc's STUN timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    initial_rto: Duration,
    max_rto: Duration,
    max_retransmissions: u32,
}

impl Default for TransactionConfig {
    fn default() -> Self {
        Self {
            initial_rto: Duration::from_millis(250),
            max_rto: Duration::from_millis(8000),
            max_retransmissions: 8,
        }
    }
}

impl TransactionConfig {
    /// Wait after the first send before the first retransmission. Each later wait is twice the
    /// previous one, up to [`max_rto`](Self::max_rto). Default: 250 ms.
    pub fn initial_rto(&mut self, value: Duration) -> &mut Self {
        self.initial_rto = value;
        self
    }

    /// Cap on the wait between two sends, and the wait after the last send before the
    /// transaction times out. Default: 8000 ms.
    pub fn max_rto(&mut self, value: Duration) -> &mut Self {
        self.max_rto = value;
        self
    }

    /// Number of retransmissions after the first send (so the request goes out this many
    /// times plus one). Default: 8.
    pub fn max_retransmissions(&mut self, value: u32) -> &mut Self {
        self.max_retransmissions = value;
        self
    }

    /// The wait after send number `n` (0 = the first send):
    /// `min(initial_rto * 2^n, max_rto)`.
    pub fn rto(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n).unwrap_or(u32::MAX);
        self.initial_rto.saturating_mul(factor).min(self.max_rto)
    }

    /// Time from the first send until the transaction times out without a response, if every
    /// send happens on time. Default: 39750 ms.
    pub fn total_timeout(&self) -> Duration {
        let mut total = Duration::ZERO;
        for n in 0..=self.max_retransmissions {
            let rto = self.rto(n);
            if rto == self.max_rto {
                // Every later wait is capped too.
                let rest = rto.saturating_mul(self.max_retransmissions - n);
                return total.saturating_add(rest).saturating_add(rto);
            }
            total = total.saturating_add(rto);
        }
        total
    }
}

/// Where a [`Transaction`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    /// Waiting for a response; more sends or the timeout are pending.
    InProgress,
    /// A response arrived.
    Succeeded {
        /// The address the server saw the request come from.
        observed: SocketAddr,
        /// Round-trip time, only when the request was sent exactly once. Retransmissions are
        /// byte-identical, so a response after a retransmission cannot be matched to one send
        /// and, per Karn's rule, gives no RTT sample.
        rtt: Option<Duration>,
        /// Time from the first send to the response: the transaction's duration, and an
        /// upper bound on the round-trip time.
        elapsed: Duration,
    },
    /// No response within [`TransactionConfig::total_timeout`] of the first send.
    TimedOut,
}

/// One datagram to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// Where to send it.
    pub destination: SocketAddr,
    /// The sealed request, identical on every send.
    pub contents: &'a [u8],
}

/// A client's STUN2 transaction: one request, its retransmissions, and the outcome.
#[derive(Debug, Clone)]
pub struct Transaction {
    id: TransactionId,
    destination: SocketAddr,
    request: Vec<u8>,
    config: TransactionConfig,
    /// Sends so far.
    sends: u32,
    first_sent: Option<Instant>,
    /// When the next send is due, or after the last send when the transaction times out.
    /// `None` if that instant is too far in the future to represent.
    deadline: Option<Instant>,
    state: TransactionState,
}

impl Transaction {
    /// A transaction for `request` to `destination`. The request is sealed once here; the
    /// first send is due at `now`.
    pub fn new(
        keys: &Stun2Keys,
        request: &Stun2Request,
        destination: SocketAddr,
        now: Instant,
        config: TransactionConfig,
    ) -> Self {
        let mut bytes = Vec::new();
        request.encode(keys, &mut bytes);
        Self {
            id: request.transaction_id,
            destination,
            request: bytes,
            config,
            sends: 0,
            first_sent: None,
            deadline: Some(now),
            state: TransactionState::InProgress,
        }
    }

    /// The transaction ID.
    pub fn id(&self) -> TransactionId {
        self.id
    }

    /// Where the request goes.
    pub fn destination(&self) -> SocketAddr {
        self.destination
    }

    /// The current state.
    pub fn state(&self) -> TransactionState {
        self.state
    }

    /// How many times the request has been sent.
    pub fn sends(&self) -> u32 {
        self.sends
    }

    fn all_sent(&self) -> bool {
        self.sends > self.config.max_retransmissions
    }

    fn due(&self, now: Instant) -> bool {
        self.state == TransactionState::InProgress && self.deadline.is_some_and(|d| d <= now)
    }

    /// The request to send now, if a send is due. The next send (or the timeout) is scheduled
    /// from `now`, so a late caller does not get a burst.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit<'_>> {
        if !self.due(now) || self.all_sent() {
            return None;
        }
        self.first_sent.get_or_insert(now);
        self.deadline = now.checked_add(self.config.rto(self.sends));
        self.sends = self.sends.saturating_add(1);
        Some(Transmit {
            destination: self.destination,
            contents: &self.request,
        })
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) (and poll again) next; `None`
    /// once the transaction is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            TransactionState::InProgress => self.deadline,
            _ => None,
        }
    }

    /// Advances time: after the last send's wait has passed, the transaction times out.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.due(now) && self.all_sent() {
            self.state = TransactionState::TimedOut;
        }
    }

    /// Takes a decoded response. Returns `true` if it completed this transaction; a response
    /// with another transaction ID, or one arriving before the first send or after the
    /// transaction ended, is ignored (`false`).
    pub fn handle_response(&mut self, response: &Stun2Response, now: Instant) -> bool {
        let (TransactionState::InProgress, Some(first)) = (self.state, self.first_sent) else {
            return false;
        };
        if response.transaction_id != self.id {
            return false;
        }
        let elapsed = now.saturating_duration_since(first);
        self.state = TransactionState::Succeeded {
            observed: response.observed,
            rtt: (self.sends == 1).then_some(elapsed),
            elapsed,
        };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stun2::{SenderSecret, Stun2Request};
    use proptest::prelude::*;

    const ID: TransactionId = TransactionId([0x42; 12]);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn setup(config: TransactionConfig) -> (Stun2Keys, Transaction, Instant) {
        let keys = Stun2Keys::new(b"secret");
        let request = Stun2Request {
            transaction_id: ID,
            sender_secret: Some(SenderSecret::new(b"consent").unwrap()),
        };
        // The one clock read of a test: everything after is t0 + Duration.
        #[allow(clippy::disallowed_methods)]
        let t0 = Instant::now();
        let tx = Transaction::new(
            &keys,
            &request,
            "192.0.2.7:3478".parse().unwrap(),
            t0,
            config,
        );
        (keys, tx, t0)
    }

    fn response(id: TransactionId) -> Stun2Response {
        Stun2Response {
            transaction_id: id,
            observed: "198.51.100.9:50000".parse().unwrap(),
        }
    }

    /// Runs the transaction with no response; returns send offsets and the final time.
    fn run_to_end(tx: &mut Transaction, t0: Instant) -> (Vec<Duration>, Duration) {
        let mut now = t0;
        let mut sends = Vec::new();
        loop {
            tx.handle_timeout(now);
            while tx.poll_transmit(now).is_some() {
                sends.push(now - t0);
            }
            match tx.poll_timeout() {
                Some(next) => {
                    assert!(next > now);
                    now = next;
                }
                None => return (sends, now - t0),
            }
        }
    }

    #[test]
    fn libwebrtc_schedule() {
        let (_, mut tx, t0) = setup(TransactionConfig::default());
        let (sends, end) = run_to_end(&mut tx, t0);
        let expected: Vec<_> = [0, 250, 750, 1750, 3750, 7750, 15750, 23750, 31750]
            .into_iter()
            .map(ms)
            .collect();
        assert_eq!(sends, expected);
        assert_eq!(end, ms(39750));
        assert_eq!(tx.state(), TransactionState::TimedOut);
        assert_eq!(TransactionConfig::default().total_timeout(), ms(39750));
    }

    #[test]
    fn every_send_is_the_same_decodable_request() {
        let (keys, mut tx, t0) = setup(TransactionConfig::default());
        let first = tx.poll_transmit(t0).unwrap().contents.to_vec();
        assert!(tx.poll_transmit(t0).is_none());
        let again = tx.poll_transmit(t0 + ms(250)).unwrap();
        assert_eq!(again.contents, first);
        assert_eq!(again.destination, "192.0.2.7:3478".parse().unwrap());
        let decoded = Stun2Request::decode(&keys, &first).unwrap();
        assert_eq!(decoded.transaction_id, ID);
        assert_eq!(decoded.sender_secret.unwrap().as_bytes(), b"consent");
    }

    #[test]
    fn success_after_one_send_has_rtt() {
        let (_, mut tx, t0) = setup(TransactionConfig::default());
        tx.poll_transmit(t0).unwrap();
        assert!(tx.handle_response(&response(ID), t0 + ms(40)));
        assert_eq!(
            tx.state(),
            TransactionState::Succeeded {
                observed: "198.51.100.9:50000".parse().unwrap(),
                rtt: Some(ms(40)),
                elapsed: ms(40),
            }
        );
        assert_eq!(tx.poll_timeout(), None);
        assert!(tx.poll_transmit(t0 + ms(250)).is_none());
        // A duplicate response changes nothing.
        assert!(!tx.handle_response(&response(ID), t0 + ms(60)));
    }

    #[test]
    fn success_after_retransmission_follows_karn() {
        let (_, mut tx, t0) = setup(TransactionConfig::default());
        tx.poll_transmit(t0).unwrap();
        tx.handle_timeout(t0 + ms(250));
        tx.poll_transmit(t0 + ms(250)).unwrap();
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(750)));
        assert!(tx.handle_response(&response(ID), t0 + ms(300)));
        assert_eq!(
            tx.state(),
            TransactionState::Succeeded {
                observed: "198.51.100.9:50000".parse().unwrap(),
                rtt: None,
                elapsed: ms(300),
            }
        );
    }

    #[test]
    fn ignores_other_ids_early_and_late_responses() {
        let (_, mut tx, t0) = setup(TransactionConfig::default());
        // Before the first send.
        assert!(!tx.handle_response(&response(ID), t0));
        tx.poll_transmit(t0).unwrap();
        assert!(!tx.handle_response(&response(TransactionId([1; 12])), t0 + ms(10)));
        assert_eq!(tx.state(), TransactionState::InProgress);
        run_to_end(&mut tx, t0);
        assert_eq!(tx.state(), TransactionState::TimedOut);
        assert!(!tx.handle_response(&response(ID), t0 + ms(40_000)));
        assert_eq!(tx.state(), TransactionState::TimedOut);
    }

    #[test]
    fn late_caller_schedules_from_actual_send() {
        let (_, mut tx, t0) = setup(TransactionConfig::default());
        tx.poll_transmit(t0).unwrap();
        // The caller wakes up 100 ms late: one send, next wait 500 ms from then.
        tx.handle_timeout(t0 + ms(350));
        assert!(tx.poll_transmit(t0 + ms(350)).is_some());
        assert!(tx.poll_transmit(t0 + ms(350)).is_none());
        assert_eq!(tx.poll_timeout(), Some(t0 + ms(850)));
    }

    #[test]
    fn custom_config() {
        let mut config = TransactionConfig::default();
        config
            .initial_rto(ms(100))
            .max_rto(ms(300))
            .max_retransmissions(3);
        let (_, mut tx, t0) = setup(config);
        let (sends, end) = run_to_end(&mut tx, t0);
        assert_eq!(sends, vec![ms(0), ms(100), ms(300), ms(600)]);
        assert_eq!(end, ms(900));
        assert_eq!(config.total_timeout(), ms(900));

        let mut once = TransactionConfig::default();
        once.max_retransmissions(0);
        let (_, mut tx, t0) = setup(once);
        let (sends, end) = run_to_end(&mut tx, t0);
        assert_eq!((sends, end), (vec![ms(0)], ms(250)));
    }

    #[test]
    fn huge_timers_do_not_panic() {
        let mut config = TransactionConfig::default();
        config
            .initial_rto(Duration::MAX)
            .max_rto(Duration::MAX)
            .max_retransmissions(u32::MAX);
        let (_, mut tx, t0) = setup(config);
        assert!(tx.poll_transmit(t0).is_some());
        assert_eq!(tx.poll_timeout(), None);
        tx.handle_timeout(t0 + ms(1));
        assert_eq!(tx.state(), TransactionState::InProgress);
        assert_eq!(config.total_timeout(), Duration::MAX);
    }

    proptest! {
        #[test]
        fn sends_match_config(initial in 1u64..1000, cap in 1u64..5000, retx in 0u32..12) {
            let mut config = TransactionConfig::default();
            config.initial_rto(ms(initial)).max_rto(ms(cap)).max_retransmissions(retx);
            let (_, mut tx, t0) = setup(config);
            let (sends, end) = run_to_end(&mut tx, t0);
            prop_assert_eq!(sends.len() as u32, retx + 1);
            prop_assert_eq!(end, config.total_timeout());
            for (n, pair) in sends.windows(2).enumerate() {
                prop_assert_eq!(pair[1] - pair[0], config.rto(n as u32));
            }
        }
    }
}
