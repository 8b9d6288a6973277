//! The authorization registry: conferences, fingerprint admissions, revocations.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_proto::grant::{MediaKind, Publication};
use newmedia_sfu::admission::registry::{
    AdmitOutcome, ConferenceSummary, EndpointAdmission, Registry, RegistryError, Revocation,
};
use std::sync::Arc;
use tokio::sync::broadcast::error::TryRecvError;

fn publication(source_id: u64, encoding_id: u64, kind: MediaKind) -> Publication {
    Publication {
        source_id,
        encoding_id,
        kind,
        width: None,
        height: None,
        max_bitrate: None,
        frame_rate: None,
    }
}

fn admission(endpoint_id: u64, fp: u8, publications: Vec<Publication>) -> EndpointAdmission {
    EndpointAdmission {
        endpoint_id,
        fingerprint: [fp; 32],
        publications,
    }
}

#[test]
fn conferences_are_created_listed_and_deleted() {
    let r = Registry::new();
    assert!(!r.conference_exists(7));
    r.create_conference(7).unwrap();
    r.create_conference(3).unwrap();
    assert_eq!(r.create_conference(7), Err(RegistryError::AlreadyExists(7)));
    assert!(r.conference_exists(7));
    r.admit_endpoint(7, admission(1, 1, vec![])).unwrap();
    assert_eq!(
        r.conferences(),
        [
            ConferenceSummary {
                conference_id: 3,
                endpoint_count: 0
            },
            ConferenceSummary {
                conference_id: 7,
                endpoint_count: 1
            },
        ]
    );
    assert_eq!(r.conference_count(), 2);
    r.delete_conference(7).unwrap();
    assert!(!r.conference_exists(7));
    assert_eq!(
        r.delete_conference(7),
        Err(RegistryError::NotFound {
            conference_id: 7,
            endpoint_id: None
        })
    );
    assert_eq!(
        r.by_fingerprint(&[1; 32]),
        None,
        "its fingerprints are freed"
    );
}

#[test]
fn admitted_fingerprint_is_found_with_its_publications() {
    let r = Registry::new();
    r.create_conference(5).unwrap();
    let pubs = vec![
        publication(1, 1, MediaKind::Audio),
        publication(2, 1, MediaKind::Video),
        publication(2, 2, MediaKind::Video),
    ];
    r.admit_endpoint(5, admission(9, 0xAB, pubs.clone()))
        .unwrap();
    let a = r.by_fingerprint(&[0xAB; 32]).unwrap();
    assert_eq!((a.conference_id, a.endpoint_id), (5, 9));
    assert_eq!(&*a.publications, pubs.as_slice());
    assert_eq!(r.by_fingerprint(&[0xAC; 32]), None);
}

#[test]
fn admitting_needs_an_existing_conference() {
    let r = Registry::new();
    assert_eq!(
        r.admit_endpoint(1, admission(1, 1, vec![])),
        Err(RegistryError::NotFound {
            conference_id: 1,
            endpoint_id: None
        })
    );
    assert_eq!(r.by_fingerprint(&[1; 32]), None);
}

#[test]
fn a_fingerprint_is_one_endpoint_only() {
    let r = Registry::new();
    r.create_conference(1).unwrap();
    r.create_conference(2).unwrap();
    r.admit_endpoint(1, admission(10, 0x11, vec![])).unwrap();
    let in_use = Err(RegistryError::FingerprintInUse {
        conference_id: 1,
        endpoint_id: 10,
    });
    assert_eq!(r.admit_endpoint(2, admission(10, 0x11, vec![])), in_use);
    assert_eq!(r.admit_endpoint(1, admission(11, 0x11, vec![])), in_use);
    assert_eq!(
        r.conferences()[1].endpoint_count,
        0,
        "refused admission left no trace"
    );
    let a = r.by_fingerprint(&[0x11; 32]).unwrap();
    assert_eq!((a.conference_id, a.endpoint_id), (1, 10));
}

#[test]
fn readmitting_an_endpoint_replaces_it_and_revokes_its_session() {
    let r = Registry::new();
    let mut revocations = r.revocations();
    r.create_conference(1).unwrap();
    let audio = vec![publication(1, 1, MediaKind::Audio)];
    assert_eq!(
        r.admit(1, admission(10, 0x11, audio.clone())),
        Ok(AdmitOutcome::Created)
    );
    assert_eq!(
        r.admit(1, admission(10, 0x11, audio.clone())),
        Ok(AdmitOutcome::Unchanged)
    );
    assert_eq!(
        revocations.try_recv(),
        Err(TryRecvError::Empty),
        "idempotent retry"
    );

    // New certificate: the old fingerprint no longer admits anything.
    assert_eq!(
        r.admit(1, admission(10, 0x22, audio.clone())),
        Ok(AdmitOutcome::Replaced)
    );
    assert_eq!(r.by_fingerprint(&[0x11; 32]), None);
    assert_eq!(r.by_fingerprint(&[0x22; 32]).unwrap().endpoint_id, 10);
    assert_eq!(
        revocations.try_recv(),
        Ok(Revocation::Endpoint {
            conference_id: 1,
            endpoint_id: 10
        })
    );
    // The freed fingerprint can go to another endpoint.
    r.admit_endpoint(1, admission(11, 0x11, vec![])).unwrap();

    // Same certificate, new publications.
    let video = vec![publication(2, 1, MediaKind::Video)];
    assert_eq!(
        r.admit(1, admission(10, 0x22, video.clone())),
        Ok(AdmitOutcome::Replaced)
    );
    assert_eq!(
        &*r.by_fingerprint(&[0x22; 32]).unwrap().publications,
        video.as_slice()
    );
    assert!(matches!(
        revocations.try_recv(),
        Ok(Revocation::Endpoint { .. })
    ));
    assert_eq!(r.conferences()[0].endpoint_count, 2);
}

#[test]
fn duplicate_publications_are_refused() {
    let r = Registry::new();
    r.create_conference(1).unwrap();
    let pubs = vec![
        publication(1, 1, MediaKind::Audio),
        publication(1, 1, MediaKind::Video),
    ];
    assert_eq!(
        r.admit_endpoint(1, admission(1, 1, pubs)),
        Err(RegistryError::DuplicatePublication {
            source_id: 1,
            encoding_id: 1
        })
    );
    assert_eq!(r.by_fingerprint(&[1; 32]), None);
}

#[test]
fn removing_an_endpoint_revokes_it() {
    let r = Registry::new();
    r.create_conference(1).unwrap();
    r.admit_endpoint(1, admission(10, 0x11, vec![])).unwrap();
    let mut revocations = r.revocations();
    assert_eq!(
        r.remove_endpoint(1, 11),
        Err(RegistryError::NotFound {
            conference_id: 1,
            endpoint_id: Some(11)
        })
    );
    assert_eq!(
        r.remove_endpoint(2, 10),
        Err(RegistryError::NotFound {
            conference_id: 2,
            endpoint_id: None
        })
    );
    r.remove_endpoint(1, 10).unwrap();
    assert_eq!(r.by_fingerprint(&[0x11; 32]), None);
    assert_eq!(
        revocations.try_recv(),
        Ok(Revocation::Endpoint {
            conference_id: 1,
            endpoint_id: 10
        })
    );
    assert_eq!(revocations.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn deleting_a_conference_revokes_it_and_frees_fingerprints() {
    let r = Registry::new();
    r.create_conference(1).unwrap();
    r.create_conference(2).unwrap();
    r.admit_endpoint(1, admission(10, 0x11, vec![])).unwrap();
    r.admit_endpoint(1, admission(11, 0x12, vec![])).unwrap();
    r.admit_endpoint(2, admission(10, 0x13, vec![])).unwrap();
    let mut revocations = r.revocations();
    r.delete_conference(1).unwrap();
    assert_eq!(revocations.try_recv(), Ok(Revocation::Conference(1)));
    assert_eq!(revocations.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(r.by_fingerprint(&[0x11; 32]), None);
    assert_eq!(r.by_fingerprint(&[0x12; 32]), None);
    assert_eq!(r.by_fingerprint(&[0x13; 32]).unwrap().conference_id, 2);
    // Recreated, the conference starts empty and the fingerprints are free.
    r.create_conference(1).unwrap();
    r.admit_endpoint(1, admission(12, 0x11, vec![])).unwrap();
    r.admit_endpoint(2, admission(11, 0x12, vec![])).unwrap();
}

#[test]
fn errors_describe_the_request() {
    assert_eq!(
        RegistryError::NotFound {
            conference_id: 4,
            endpoint_id: Some(2)
        }
        .to_string(),
        "endpoint 2 of conference 4 not found"
    );
    assert_eq!(
        RegistryError::NotFound {
            conference_id: 4,
            endpoint_id: None
        }
        .to_string(),
        "conference 4 not found"
    );
}

/// Many threads admitting, replacing, removing and deleting at once: no deadlock, and
/// afterwards the fingerprint index agrees with the conferences exactly.
#[test]
fn concurrent_writers_keep_the_index_consistent() {
    let r = Arc::new(Registry::new());
    for c in 0..4 {
        r.create_conference(c).unwrap();
    }
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || {
                for i in 0..2000u64 {
                    let c = (i + t) % 4;
                    let e = i % 8;
                    let fp = u8::try_from((i * 7 + t) % 16).unwrap();
                    match i % 5 {
                        0..=2 => {
                            let _ = r.admit_endpoint(c, admission(e, fp, vec![]));
                        }
                        3 => {
                            let _ = r.remove_endpoint(c, e);
                        }
                        _ => {
                            if r.delete_conference(c).is_ok() {
                                let _ = r.create_conference(c);
                            }
                        }
                    }
                    let _ = r.by_fingerprint(&[fp; 32]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut admitted = 0;
    for fp in 0..16u8 {
        if let Some(a) = r.by_fingerprint(&[fp; 32]) {
            admitted += 1;
            assert!(r.conference_exists(a.conference_id));
        }
    }
    let endpoints: usize = r.conferences().iter().map(|c| c.endpoint_count).sum();
    assert_eq!(
        admitted, endpoints,
        "every endpoint is reachable by its fingerprint"
    );
    // No stale index entry blocks a fingerprint that nobody holds.
    r.create_conference(99).unwrap();
    for fp in 0..16u8 {
        if r.by_fingerprint(&[fp; 32]).is_none() {
            r.admit_endpoint(99, admission(u64::from(fp), fp, vec![]))
                .unwrap();
        }
    }
}
