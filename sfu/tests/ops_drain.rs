//! `Drain` and `wait_until`, in tokio's paused (virtual) time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_sfu::ops::drain::DRAIN_POLL_INTERVAL;
use newmedia_sfu::ops::{Drain, DrainOutcome, wait_until};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

#[test]
fn starts_ready_and_draining_is_one_way() {
    let drain = Drain::new();
    assert!(!drain.is_draining());
    assert!(drain.readiness());
    assert!(drain.start(), "the first start starts it");
    assert!(drain.is_draining());
    assert!(!drain.readiness());
    assert!(!drain.start(), "a second start is a no-op");
    assert!(drain.is_draining());
}

#[tokio::test(start_paused = true)]
async fn tasks_wake_when_draining_starts() {
    let drain = Arc::new(Drain::new());
    let woke = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn({
        let drain = Arc::clone(&drain);
        let woke = Arc::clone(&woke);
        async move {
            drain.started().await;
            woke.store(true, Ordering::SeqCst);
        }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!woke.load(Ordering::SeqCst));
    let mut rx = drain.subscribe();
    assert!(!*rx.borrow_and_update());
    drain.start();
    task.await.unwrap();
    assert!(woke.load(Ordering::SeqCst));
    assert!(rx.has_changed().unwrap());
    assert!(*rx.borrow());
    // A task that arrives after the start does not wait.
    drain.started().await;
}

#[tokio::test(start_paused = true)]
async fn wait_until_returns_at_once_when_already_drained() {
    let t0 = Instant::now();
    let outcome = wait_until(|| true, Duration::from_secs(30)).await;
    assert_eq!(outcome, DrainOutcome::Drained);
    assert_eq!(t0.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn wait_until_returns_when_the_predicate_holds() {
    let connections = Arc::new(AtomicUsize::new(3));
    let closer = tokio::spawn({
        let connections = Arc::clone(&connections);
        async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                connections.fetch_sub(1, Ordering::SeqCst);
            }
        }
    });
    let t0 = Instant::now();
    let outcome = wait_until(
        || connections.load(Ordering::SeqCst) == 0,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(outcome, DrainOutcome::Drained);
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_secs(6), "{waited:?}");
    assert!(
        waited <= Duration::from_secs(6) + DRAIN_POLL_INTERVAL,
        "{waited:?}"
    );
    closer.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn wait_until_gives_up_after_the_grace_period() {
    let polls = AtomicUsize::new(0);
    let t0 = Instant::now();
    let outcome = wait_until(
        || {
            polls.fetch_add(1, Ordering::SeqCst);
            false
        },
        Duration::from_secs(3),
    )
    .await;
    assert_eq!(outcome, DrainOutcome::GraceExpired);
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    // Polled on the interval, not in a busy loop.
    let polls = polls.load(Ordering::SeqCst);
    assert!((30..=32).contains(&polls), "{polls} polls");
}

#[tokio::test(start_paused = true)]
async fn zero_grace_checks_once() {
    assert_eq!(
        wait_until(|| false, Duration::ZERO).await,
        DrainOutcome::GraceExpired
    );
    assert_eq!(
        wait_until(|| true, Duration::ZERO).await,
        DrainOutcome::Drained
    );
}
