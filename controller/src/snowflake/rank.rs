//! Which candidate pairs to check, best first (pure: takes the history and `now`).
//!
//! A **path** joins a client candidate to a node candidate of the same address family (a
//! socket of one family cannot reach the other, so mixed pairs are never checked). A client
//! `relay` candidate makes a relay path: the uplink check goes from the client's best
//! non-relay candidate of that family (or from the relay itself when it has none), and a
//! downlink check from the node to the relay.
//!
//! Paths are sorted by, in order:
//! 1. **history** of the pair's candidate types (`"<client kind>><node kind>"`, e.g.
//!    `"stun>local"`) on the client's network: a pair type whose last outcome within the
//!    history window was a success comes first, one whose last outcome was a failure last,
//!    the rest in between;
//! 2. **candidate type**: a `local` candidate on the node candidate's network (both
//!    loopback, the same /24 or /64, or both globally routable) > `stun` (reflexive) > any
//!    other `local` > `relay`;
//! 3. **address family**: IPv6 before IPv4;
//! 4. the order of the advertisement and the node's registration.

use super::super::store::History;
use newmedia_proto::signaling::{Address, Candidate, CandidateKind};
use std::net::SocketAddr;

use super::network::same_network;

/// One path to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedPath {
    /// The client candidate the uplink check is sent from.
    pub from: Candidate,
    /// The node candidate.
    pub to: Candidate,
    /// The client's relay candidate, for a relay path.
    pub relay: Option<Candidate>,
    /// History key of the candidate types.
    pub pair_type: String,
}

/// What [`rank`] needs besides the candidates.
#[derive(Debug, Clone, Copy)]
pub struct RankInput<'a> {
    /// The client network's history.
    pub history: &'a History,
    /// Now, Unix milliseconds.
    pub now_ms: u64,
    /// Outcomes older than this are ignored, milliseconds.
    pub window_ms: u64,
}

fn kind_of(c: &Candidate) -> Option<(CandidateKind, SocketAddr)> {
    c.address().map(|(k, a)| (k, a.socket_addr()))
}

/// History key of a pair of candidate kinds.
pub fn pair_type(client: CandidateKind, node: CandidateKind) -> String {
    format!("{}>{}", client.key(), node.key())
}

/// 0: last outcome a recent success; 2: a recent failure; 1: nothing recent.
fn history_class(input: &RankInput<'_>, pair_type: &str) -> u8 {
    let Some(o) = input.history.get(pair_type) else {
        return 1;
    };
    let recent = |t: u64| t != 0 && input.now_ms.saturating_sub(t) <= input.window_ms;
    match (recent(o.last_success_ms), recent(o.last_failure_ms)) {
        (true, true) if o.last_success_ms >= o.last_failure_ms => 0,
        (true, false) => 0,
        (_, true) => 2,
        (false, false) => 1,
    }
}

fn type_class(kind: CandidateKind, client: SocketAddr, node: SocketAddr) -> u8 {
    match kind {
        CandidateKind::Local if same_network(client.ip(), node.ip()) => 0,
        CandidateKind::Stun => 1,
        CandidateKind::Local => 2,
        CandidateKind::Relay => 3,
    }
}

/// Every path between `client` and `node` candidates, best first (see the module docs).
pub fn rank(client: &[Candidate], node: &[Candidate], input: &RankInput<'_>) -> Vec<RankedPath> {
    let mut scored: Vec<((u8, u8, u8, usize), RankedPath)> = Vec::new();
    let mut order = 0usize;
    for n in node {
        let Some((node_kind, node_addr)) = kind_of(n) else {
            continue;
        };
        for c in client {
            let Some((kind, addr)) = kind_of(c) else {
                continue;
            };
            if addr.is_ipv4() != node_addr.is_ipv4() {
                continue;
            }
            let (from, relay) = if kind == CandidateKind::Relay {
                let base = best_base(client, node_addr).unwrap_or_else(|| c.clone());
                (base, Some(c.clone()))
            } else {
                (c.clone(), None)
            };
            let pt = pair_type(kind, node_kind);
            let key = (
                history_class(input, &pt),
                type_class(kind, addr, node_addr),
                u8::from(addr.is_ipv4()),
                order,
            );
            order += 1;
            scored.push((
                key,
                RankedPath {
                    from,
                    to: n.clone(),
                    relay,
                    pair_type: pt,
                },
            ));
        }
    }
    scored.sort_by_key(|(key, _)| *key);
    scored.into_iter().map(|(_, p)| p).collect()
}

/// The best non-relay candidate of the node address's family to send a relay path's uplink
/// check from.
fn best_base(client: &[Candidate], node: SocketAddr) -> Option<Candidate> {
    client
        .iter()
        .filter_map(|c| kind_of(c).map(|(k, a)| (k, a, c)))
        .filter(|(k, a, _)| *k != CandidateKind::Relay && a.is_ipv4() == node.is_ipv4())
        .min_by_key(|(k, a, _)| type_class(*k, *a, node))
        .map(|(_, _, c)| c.clone())
}

/// The address of a candidate that has exactly one (validated advertisements always do).
pub fn address_of(c: &Candidate) -> Option<&Address> {
    c.address().map(|(_, a)| a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::PairOutcomes;

    fn cand(kind: CandidateKind, addr: &str) -> Candidate {
        Candidate::new(kind, Address::parse(addr).unwrap(), "s")
    }

    fn types(paths: &[RankedPath]) -> Vec<String> {
        paths
            .iter()
            .map(|p| {
                let a = address_of(p.relay.as_ref().unwrap_or(&p.from)).unwrap();
                format!("{}@{}", p.pair_type, a)
            })
            .collect()
    }

    #[test]
    fn type_and_family_order_without_history() {
        let client = [
            cand(CandidateKind::Relay, "198.51.100.9:5000"),
            cand(CandidateKind::Stun, "203.0.113.10:43210"),
            cand(CandidateKind::Local, "192.168.0.2:5000"),
            cand(CandidateKind::Local, "[2001:db9::2]:5000"),
        ];
        let node = [
            cand(CandidateKind::Local, "198.51.100.20:4433"),
            cand(CandidateKind::Local, "[2001:db9::20]:4433"),
        ];
        let history = History::new();
        let input = RankInput {
            history: &history,
            now_ms: 1_000_000,
            window_ms: 60_000,
        };
        let paths = rank(&client, &node, &input);
        assert_eq!(
            types(&paths),
            [
                // 2001:db9:: is global on both sides: "local on the same network".
                "local>local@[2001:db9::2]:5000",
                "stun>local@203.0.113.10:43210",
                "local>local@192.168.0.2:5000",
                "relay>local@198.51.100.9:5000",
            ]
        );
        // The relay path's uplink goes from the best non-relay IPv4 candidate.
        assert_eq!(
            address_of(&paths[3].from).unwrap().as_str(),
            "203.0.113.10:43210"
        );
    }

    #[test]
    fn ipv6_before_ipv4_on_ties() {
        let client = [
            cand(CandidateKind::Stun, "203.0.113.10:1"),
            cand(CandidateKind::Stun, "[2001:db9::1]:1"),
        ];
        let node = [
            cand(CandidateKind::Local, "198.51.100.20:4433"),
            cand(CandidateKind::Local, "[2001:db9:5::20]:4433"),
        ];
        let history = History::new();
        let input = RankInput {
            history: &history,
            now_ms: 0,
            window_ms: 1,
        };
        let paths = rank(&client, &node, &input);
        assert_eq!(
            types(&paths),
            ["stun>local@[2001:db9::1]:1", "stun>local@203.0.113.10:1"]
        );
    }

    #[test]
    fn history_moves_success_first_and_failure_last() {
        let client = [
            cand(CandidateKind::Relay, "198.51.100.9:5000"),
            cand(CandidateKind::Stun, "203.0.113.10:43210"),
            cand(CandidateKind::Local, "192.168.0.2:5000"),
        ];
        let node = [cand(CandidateKind::Local, "198.51.100.20:4433")];
        let now = 10_000_000;
        let mut history = History::new();
        history.insert(
            "relay>local".into(),
            PairOutcomes {
                successes: 3,
                last_success_ms: now - 1000,
                ..PairOutcomes::default()
            },
        );
        history.insert(
            "stun>local".into(),
            PairOutcomes {
                successes: 5,
                failures: 2,
                last_success_ms: now - 5000,
                last_failure_ms: now - 2000,
            },
        );
        let input = RankInput {
            history: &history,
            now_ms: now,
            window_ms: 60_000,
        };
        assert_eq!(
            types(&rank(&client, &node, &input)),
            [
                "relay>local@198.51.100.9:5000",
                "local>local@192.168.0.2:5000",
                "stun>local@203.0.113.10:43210",
            ]
        );

        // Outside the window, history no longer counts.
        let input = RankInput {
            now_ms: now + 3_600_000,
            ..input
        };
        assert_eq!(
            types(&rank(&client, &node, &input)),
            [
                "stun>local@203.0.113.10:43210",
                "local>local@192.168.0.2:5000",
                "relay>local@198.51.100.9:5000",
            ]
        );

        // A success after the failure makes the pair type good again.
        history.get_mut("stun>local").unwrap().last_success_ms = now - 100;
        let input = RankInput {
            history: &history,
            now_ms: now,
            window_ms: 60_000,
        };
        assert_eq!(
            types(&rank(&client, &node, &input))[..2],
            // Both good now: candidate type decides.
            [
                "stun>local@203.0.113.10:43210".to_owned(),
                "relay>local@198.51.100.9:5000".to_owned()
            ]
        );
    }

    #[test]
    fn mixed_families_are_not_paired() {
        let client = [cand(CandidateKind::Local, "127.0.0.1:1")];
        let node = [cand(CandidateKind::Local, "[::1]:4433")];
        let history = History::new();
        let input = RankInput {
            history: &history,
            now_ms: 0,
            window_ms: 1,
        };
        assert!(rank(&client, &node, &input).is_empty());
    }
}
