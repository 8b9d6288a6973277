//! The node: every conference on this SFU, admission, and the accept loops.

use super::clock;
use super::conference::{Conference, lock};
use super::member::Member;
use super::stats::ForwardStats;
use crate::admission::registry::{Registry, Revocation};
use crate::policy::keyframe::{KeyframeConfig, KeyframeLimiter};
use crate::policy::speaker::{ActiveSpeakers, SpeakerConfig};
use dashmap::DashMap;
use ed25519_dalek::VerifyingKey;
use newmedia_proto::control::ErrorCode;
use newmedia_proto::grant::{JoinGrant, Publication};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Settings of the forwarding layer. `Default` runs a laptop demo; every setter documents its
/// default and unit.
#[derive(Debug, Clone)]
pub struct ForwardConfig {
    pub(crate) speakers: SpeakerConfig,
    pub(crate) keyframes: KeyframeConfig,
    pub(crate) retransmit_capacity: usize,
    pub(crate) datagram_send_buffer: usize,
    pub(crate) hello_timeout: Duration,
    pub(crate) speaker_tick: Duration,
    pub(crate) path_tick: Duration,
}

impl Default for ForwardConfig {
    fn default() -> Self {
        Self {
            speakers: SpeakerConfig::default(),
            keyframes: KeyframeConfig::default(),
            retransmit_capacity: 512,
            datagram_send_buffer: 256 * 1024,
            hello_timeout: Duration::from_secs(5),
            speaker_tick: Duration::from_millis(50),
            path_tick: Duration::from_millis(200),
        }
    }
}

impl ForwardConfig {
    /// Active-speaker selection (default: [`SpeakerConfig::default`], top 3).
    pub fn speakers(&mut self, speakers: SpeakerConfig) -> &mut Self {
        self.speakers = speakers;
        self
    }

    /// Intra-frame request limiting (default: [`KeyframeConfig::default`]).
    pub fn keyframes(&mut self, keyframes: KeyframeConfig) -> &mut Self {
        self.keyframes = keyframes;
        self
    }

    /// Messages kept per encoding for retransmission (default 512).
    pub fn retransmit_capacity(&mut self, messages: usize) -> &mut Self {
        self.retransmit_capacity = messages.max(1);
        self
    }

    /// quinn's datagram send buffer per connection, in bytes (default 256 KiB). A quarter of it
    /// is kept for reference-frame messages.
    pub fn datagram_send_buffer(&mut self, bytes: usize) -> &mut Self {
        self.datagram_send_buffer = bytes;
        self
    }

    /// How long a new connection has to send its Hello (default 5 s).
    pub fn hello_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.hello_timeout = timeout;
        self
    }

    /// How often active speakers are re-evaluated (default 50 ms).
    pub fn speaker_tick(&mut self, interval: Duration) -> &mut Self {
        self.speaker_tick = interval;
        self
    }

    /// How often each subscriber's path is sampled to step encodings down or up (default
    /// 200 ms).
    pub fn path_tick(&mut self, interval: Duration) -> &mut Self {
        self.path_tick = interval;
        self
    }
}

/// Marks egress packets to one destination with a DSCP: the transport's DSCP table.
pub type EgressMarker = crate::transport::DscpTable;

/// How an endpoint was admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmittedBy {
    /// Its certificate fingerprint was registered through the admin API.
    Fingerprint,
    /// It presented a valid join grant.
    Grant,
}

/// The outcome of a successful admission.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    pub(crate) conference_id: u64,
    pub(crate) endpoint_id: u64,
    pub(crate) publications: Arc<[Publication]>,
    pub(crate) by: AdmittedBy,
}

/// Why an admission was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: ErrorCode,
    pub(crate) reason: String,
}

/// Every conference on this node and what it needs to admit and forward.
pub struct Node {
    pub(crate) conferences: DashMap<u64, Arc<Conference>>,
    pub(crate) registry: Arc<Registry>,
    grant_keys: Vec<(u64, VerifyingKey)>,
    pub(crate) config: ForwardConfig,
    /// Forwarding counters.
    pub stats: Arc<ForwardStats>,
    pub(crate) egress: Option<EgressMarker>,
    draining: AtomicBool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("conferences", &self.conferences.len())
            .field("draining", &self.is_draining())
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node admitting by `registry` fingerprints and by grants signed with `grant_keys`.
    pub fn new(
        registry: Arc<Registry>,
        grant_keys: Vec<(u64, VerifyingKey)>,
        config: ForwardConfig,
        egress: Option<EgressMarker>,
    ) -> Arc<Self> {
        let node = Arc::new(Self {
            conferences: DashMap::new(),
            registry,
            grant_keys,
            config,
            stats: Arc::new(ForwardStats::default()),
            egress,
            draining: AtomicBool::new(false),
        });
        tokio::spawn(enforce_revocations(Arc::downgrade(&node)));
        node
    }

    /// Stops admitting new endpoints (existing sessions carry on until closed).
    pub fn start_draining(&self) {
        self.draining.store(true, Relaxed);
    }

    /// Whether the node refuses new admissions.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Relaxed)
    }

    /// Connected endpoints, over all conferences.
    pub fn connection_count(&self) -> usize {
        self.conferences.iter().map(|c| c.members.len()).sum()
    }

    /// Conferences with at least one connected endpoint.
    pub fn conference_count(&self) -> usize {
        self.conferences.len()
    }

    /// Subscriptions over all endpoints.
    pub fn subscription_count(&self) -> usize {
        self.conferences
            .iter()
            .flat_map(|c| {
                c.members
                    .iter()
                    .map(|m| lock(&m.subscriptions).len())
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Bytes waiting in the connections' datagram send buffers (the per-subscriber queues).
    pub fn queued_bytes(&self) -> usize {
        self.conferences
            .iter()
            .flat_map(|c| {
                c.members
                    .iter()
                    .map(|m| {
                        self.config
                            .datagram_send_buffer
                            .saturating_sub(m.conn.datagram_send_buffer_space())
                    })
                    .collect::<Vec<_>>()
            })
            .sum()
    }

    /// Closes every connection with `code` (drain deadline, shutdown).
    pub fn close_all(&self, code: quinn::VarInt, reason: &[u8]) {
        for conference in self.conferences.iter() {
            for member in conference.members.iter() {
                member.conn.close(code, reason);
            }
        }
    }

    /// Decides whether a client may join: by its certificate fingerprint, else by its grant.
    pub(crate) fn admit(
        &self,
        fingerprint: Option<[u8; 32]>,
        grant: Option<&[u8]>,
    ) -> Result<Admission, Refusal> {
        if self.is_draining() {
            return Err(Refusal {
                code: ErrorCode::SERVER_DRAINING,
                reason: "this node is draining".into(),
            });
        }
        if let Some(a) = fingerprint.and_then(|fp| self.registry.by_fingerprint(&fp)) {
            return Ok(Admission {
                conference_id: a.conference_id,
                endpoint_id: a.endpoint_id,
                publications: a.publications,
                by: AdmittedBy::Fingerprint,
            });
        }
        let Some(grant) = grant else {
            return Err(Refusal {
                code: ErrorCode::UNAUTHORIZED,
                reason: "certificate not registered and no join grant".into(),
            });
        };
        match JoinGrant::verify(grant, &self.grant_keys, clock::unix_seconds()) {
            Ok(g) => Ok(Admission {
                conference_id: g.conference_id,
                endpoint_id: g.endpoint_id,
                publications: g.publications.into(),
                by: AdmittedBy::Grant,
            }),
            Err(e) => Err(Refusal {
                code: ErrorCode::UNAUTHORIZED,
                reason: format!("join grant refused: {e}"),
            }),
        }
    }

    /// Adds `member` to its live conference, created on first join (its speaker task with
    /// it). Returns the conference and the member it replaced, if the endpoint was connected
    /// already. The conference map's entry stays locked while the member goes in, so a
    /// concurrent last leave cannot remove the conference in between.
    pub(crate) fn join(
        self: &Arc<Self>,
        member: &Arc<Member>,
    ) -> (Arc<Conference>, Option<Arc<Member>>) {
        let entry = self
            .conferences
            .entry(member.conference_id)
            .or_insert_with(|| {
                let conference = Arc::new(Conference::new(
                    member.conference_id,
                    ActiveSpeakers::new(self.config.speakers),
                    KeyframeLimiter::new(self.config.keyframes),
                    self.egress.clone(),
                    self.stats.clone(),
                ));
                tokio::spawn(super::speaker_task::run(
                    Arc::downgrade(self),
                    Arc::downgrade(&conference),
                ));
                conference
            });
        let conference = entry.value().clone();
        let replaced = conference
            .members
            .insert(member.endpoint_id, member.clone());
        drop(entry);
        (conference, replaced)
    }

    /// Removes a member and, when it was the last one, its conference.
    pub(crate) fn leave(&self, member: &Arc<Member>) {
        let Some(conference) = self
            .conferences
            .get(&member.conference_id)
            .map(|c| c.clone())
        else {
            return;
        };
        conference.leave(member);
        self.conferences
            .remove_if(&member.conference_id, |_, c| c.members.is_empty());
    }

    /// Marks egress toward `member` with the highest DSCP among what it receives.
    pub(crate) fn mark_egress(&self, member: &Member, dscp: Option<u8>) {
        if let Some(table) = &self.egress {
            match dscp {
                Some(d) => table.set(member.conn.remote_address(), d),
                None => table.clear(member.conn.remote_address()),
            }
        }
    }
}

/// Closes the sessions of endpoints and conferences the admin API removed.
async fn enforce_revocations(node: Weak<Node>) {
    let Some(mut revocations) = node.upgrade().map(|n| n.registry.revocations()) else {
        return;
    };
    loop {
        let revocation = match revocations.recv().await {
            Ok(r) => r,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let Some(node) = node.upgrade() else { return };
        let (conference_id, endpoint) = match revocation {
            Revocation::Conference(c) => (c, None),
            Revocation::Endpoint {
                conference_id,
                endpoint_id,
            } => (conference_id, Some(endpoint_id)),
        };
        if let Some(conference) = node.conferences.get(&conference_id) {
            for member in conference.members.iter() {
                if endpoint.is_none_or(|e| e == member.endpoint_id) {
                    member.conn.close(super::close::REVOKED, b"revoked");
                }
            }
        }
    }
}
