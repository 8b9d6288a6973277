//! The authorization registry: which conferences exist on this node, and which client
//! certificate fingerprints are admitted to them as which endpoint, publishing what.
//!
//! The admin HTTP API mutates it (the controller will drive that API later); sessions query
//! it at the TLS handshake ([`Registry::by_fingerprint`]) and listen for
//! [`Revocation`]s to close connections whose admission was withdrawn.
//!
//! State lives in two `DashMap`s: conferences (each with its endpoints) and a fingerprint
//! index. Writers that touch both always lock the conference first, then the fingerprint
//! index, and never hold a fingerprint entry while locking another fingerprint, so they cannot
//! deadlock; readers lock one map at a time. It is not on the forwarding path: a session looks
//! its admission up once and keeps the returned [`Admitted`].

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use newmedia_proto::grant::Publication;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use thiserror::Error;
use tokio::sync::broadcast;

/// How many revocations a slow receiver may fall behind before it sees `Lagged`.
pub const REVOCATION_CAPACITY: usize = 1024;

/// Why a registry change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegistryError {
    /// The conference already exists.
    #[error("conference {0} already exists")]
    AlreadyExists(u64),
    /// The conference, or the endpoint in it, does not exist.
    #[error("{}", not_found_text(*conference_id, *endpoint_id))]
    NotFound {
        /// The conference asked for.
        conference_id: u64,
        /// The endpoint asked for, when the conference exists but the endpoint does not.
        endpoint_id: Option<u64>,
    },
    /// The fingerprint is already admitted as another endpoint (of this or another
    /// conference). A certificate identifies exactly one endpoint.
    #[error("fingerprint already admitted as endpoint {endpoint_id} of conference {conference_id}")]
    FingerprintInUse {
        /// The conference it is admitted to.
        conference_id: u64,
        /// The endpoint it is admitted as.
        endpoint_id: u64,
    },
    /// Two publications name the same (sourceID, encodingID).
    #[error("publication (sourceID {source_id}, encodingID {encoding_id}) is listed twice")]
    DuplicatePublication {
        /// The source ID.
        source_id: u64,
        /// The encoding ID.
        encoding_id: u64,
    },
}

fn not_found_text(conference_id: u64, endpoint_id: Option<u64>) -> String {
    match endpoint_id {
        None => format!("conference {conference_id} not found"),
        Some(e) => format!("endpoint {e} of conference {conference_id} not found"),
    }
}

/// An endpoint to admit into a conference by its client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointAdmission {
    /// The endpoint ID within the conference.
    pub endpoint_id: u64,
    /// SHA-256 of the DER of the certificate the endpoint presents in mutual TLS.
    pub fingerprint: [u8; 32],
    /// The encodings it may publish; datagrams with any other GlobalEncodingID are dropped.
    pub publications: Vec<Publication>,
}

/// What a fingerprint is admitted as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The conference.
    pub conference_id: u64,
    /// The endpoint within it.
    pub endpoint_id: u64,
    /// The encodings it may publish (shared, cheap to clone).
    pub publications: Arc<[Publication]>,
}

/// An admission withdrawn: sessions it covers must be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The conference was deleted: every session in it.
    Conference(u64),
    /// One endpoint was removed, or its admission replaced by a different one.
    Endpoint {
        /// The conference.
        conference_id: u64,
        /// The endpoint.
        endpoint_id: u64,
    },
}

/// One line of [`Registry::conferences`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConferenceSummary {
    /// The conference ID.
    #[serde(rename = "conferenceID")]
    pub conference_id: u64,
    /// How many endpoints are admitted to it by fingerprint.
    #[serde(rename = "endpointCount")]
    pub endpoint_count: usize,
}

/// What [`Registry::admit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdmitOutcome {
    /// The endpoint was new.
    Created,
    /// The endpoint existed with a different fingerprint or publications; it was replaced
    /// and a [`Revocation::Endpoint`] sent so its live session reconnects under the new terms.
    Replaced,
    /// The endpoint existed with the very same admission (an idempotent retry); nothing
    /// changed and nothing was revoked.
    Unchanged,
}

#[derive(Debug, Clone)]
struct EndpointEntry {
    fingerprint: [u8; 32],
    publications: Arc<[Publication]>,
}

#[derive(Debug, Default)]
struct Conference {
    endpoints: HashMap<u64, EndpointEntry>,
}

/// The in-memory authorization registry. Share it as `Arc<Registry>`.
#[derive(Debug)]
pub struct Registry {
    conferences: DashMap<u64, Conference>,
    /// fingerprint -> (conference ID, endpoint ID).
    fingerprints: DashMap<[u8; 32], (u64, u64)>,
    revocations: broadcast::Sender<Revocation>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry {
            conferences: DashMap::new(),
            fingerprints: DashMap::new(),
            revocations: broadcast::Sender::new(REVOCATION_CAPACITY),
        }
    }

    /// Creates a conference with no endpoints.
    pub fn create_conference(&self, conference_id: u64) -> Result<(), RegistryError> {
        match self.conferences.entry(conference_id) {
            Entry::Occupied(_) => Err(RegistryError::AlreadyExists(conference_id)),
            Entry::Vacant(v) => {
                v.insert(Conference::default());
                Ok(())
            }
        }
    }

    /// Deletes a conference and every endpoint admission in it, and sends
    /// [`Revocation::Conference`].
    pub fn delete_conference(&self, conference_id: u64) -> Result<(), RegistryError> {
        let Entry::Occupied(conference) = self.conferences.entry(conference_id) else {
            return Err(RegistryError::NotFound {
                conference_id,
                endpoint_id: None,
            });
        };
        // Still holding the conference: free its fingerprints first so no other writer sees
        // the conference gone but its fingerprints in use.
        for (endpoint_id, entry) in &conference.get().endpoints {
            self.fingerprints.remove_if(&entry.fingerprint, |_, owner| {
                *owner == (conference_id, *endpoint_id)
            });
        }
        conference.remove();
        self.revoke(Revocation::Conference(conference_id));
        Ok(())
    }

    /// Admits (or re-admits) an endpoint: the conference must exist; a fingerprint maps to at
    /// most one (conference, endpoint), so admitting a fingerprint already used by another
    /// endpoint is [`RegistryError::FingerprintInUse`]; admitting the same endpoint again
    /// replaces its admission.
    pub fn admit_endpoint(
        &self,
        conference_id: u64,
        admission: EndpointAdmission,
    ) -> Result<(), RegistryError> {
        self.admit(conference_id, admission).map(|_| ())
    }

    /// [`Registry::admit_endpoint`], saying whether the endpoint was created, replaced or
    /// left unchanged (the admin API answers 201 or 200 by it).
    pub fn admit(
        &self,
        conference_id: u64,
        admission: EndpointAdmission,
    ) -> Result<AdmitOutcome, RegistryError> {
        check_publications(&admission.publications)?;
        let EndpointAdmission {
            endpoint_id,
            fingerprint,
            publications,
        } = admission;
        let Some(mut conference) = self.conferences.get_mut(&conference_id) else {
            return Err(RegistryError::NotFound {
                conference_id,
                endpoint_id: None,
            });
        };
        let me = (conference_id, endpoint_id);
        match self.fingerprints.entry(fingerprint) {
            Entry::Occupied(o) if *o.get() != me => {
                let (conference_id, endpoint_id) = *o.get();
                return Err(RegistryError::FingerprintInUse {
                    conference_id,
                    endpoint_id,
                });
            }
            Entry::Occupied(_) => {}
            Entry::Vacant(v) => {
                v.insert(me);
            }
        }
        // The fingerprint entry guard is dropped here, before another fingerprint (the
        // endpoint's old one) is removed below: two guards on one shard would deadlock.
        let publications: Arc<[Publication]> = publications.into();
        let previous = conference.endpoints.insert(
            endpoint_id,
            EndpointEntry {
                fingerprint,
                publications: Arc::clone(&publications),
            },
        );
        let outcome = match previous {
            None => AdmitOutcome::Created,
            Some(old) if old.fingerprint == fingerprint && old.publications == publications => {
                AdmitOutcome::Unchanged
            }
            Some(old) => {
                if old.fingerprint != fingerprint {
                    self.fingerprints
                        .remove_if(&old.fingerprint, |_, owner| *owner == me);
                }
                AdmitOutcome::Replaced
            }
        };
        drop(conference);
        if outcome == AdmitOutcome::Replaced {
            self.revoke(Revocation::Endpoint {
                conference_id,
                endpoint_id,
            });
        }
        Ok(outcome)
    }

    /// Removes an endpoint's admission and sends [`Revocation::Endpoint`].
    pub fn remove_endpoint(
        &self,
        conference_id: u64,
        endpoint_id: u64,
    ) -> Result<(), RegistryError> {
        let Some(mut conference) = self.conferences.get_mut(&conference_id) else {
            return Err(RegistryError::NotFound {
                conference_id,
                endpoint_id: None,
            });
        };
        let Some(old) = conference.endpoints.remove(&endpoint_id) else {
            return Err(RegistryError::NotFound {
                conference_id,
                endpoint_id: Some(endpoint_id),
            });
        };
        self.fingerprints.remove_if(&old.fingerprint, |_, owner| {
            *owner == (conference_id, endpoint_id)
        });
        drop(conference);
        self.revoke(Revocation::Endpoint {
            conference_id,
            endpoint_id,
        });
        Ok(())
    }

    /// What the certificate with this SHA-256 fingerprint is admitted as, if anything.
    ///
    /// To not miss a revocation that races with the handshake, call
    /// [`Registry::revocations`] before this.
    pub fn by_fingerprint(&self, fingerprint: &[u8; 32]) -> Option<Admitted> {
        let (conference_id, endpoint_id) = *self.fingerprints.get(fingerprint)?;
        // One map at a time: the fingerprint guard is gone. Re-check the fingerprint in case
        // the endpoint was replaced in between.
        let conference = self.conferences.get(&conference_id)?;
        let entry = conference.endpoints.get(&endpoint_id)?;
        (entry.fingerprint == *fingerprint).then(|| Admitted {
            conference_id,
            endpoint_id,
            publications: Arc::clone(&entry.publications),
        })
    }

    /// Whether the conference exists.
    pub fn conference_exists(&self, conference_id: u64) -> bool {
        self.conferences.contains_key(&conference_id)
    }

    /// Every conference with its endpoint count, by conference ID.
    pub fn conferences(&self) -> Vec<ConferenceSummary> {
        let mut out: Vec<ConferenceSummary> = self
            .conferences
            .iter()
            .map(|c| ConferenceSummary {
                conference_id: *c.key(),
                endpoint_count: c.endpoints.len(),
            })
            .collect();
        out.sort_unstable_by_key(|c| c.conference_id);
        out
    }

    /// How many conferences exist.
    pub fn conference_count(&self) -> usize {
        self.conferences.len()
    }

    /// A receiver of every revocation sent from now on. A receiver that falls more than
    /// [`REVOCATION_CAPACITY`] behind gets `RecvError::Lagged` and should re-check its
    /// sessions with [`Registry::by_fingerprint`] / [`Registry::conference_exists`].
    pub fn revocations(&self) -> broadcast::Receiver<Revocation> {
        self.revocations.subscribe()
    }

    fn revoke(&self, revocation: Revocation) {
        // An error only means nobody is listening, which is fine.
        let _ = self.revocations.send(revocation);
    }
}

fn check_publications(publications: &[Publication]) -> Result<(), RegistryError> {
    let mut seen = HashSet::with_capacity(publications.len());
    for p in publications {
        if !seen.insert((p.source_id, p.encoding_id)) {
            return Err(RegistryError::DuplicatePublication {
                source_id: p.source_id,
                encoding_id: p.encoding_id,
            });
        }
    }
    Ok(())
}
