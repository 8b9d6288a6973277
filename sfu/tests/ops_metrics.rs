//! `SfuMetrics`: every metric is exported, with the process collector, and counts add up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use newmedia_sfu::ops::{AdmissionResult, DropReason, SfuMetrics, StunResult};

/// The value of the sample line `name` (with labels, if any) in the text exposition.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
        .parse()
        .unwrap()
}

#[test]
fn every_metric_is_exported_from_the_start() {
    let m = SfuMetrics::new().unwrap();
    let text = m.encode_text();
    for name in [
        "newmedia_sfu_connections",
        "newmedia_sfu_conferences",
        "newmedia_sfu_subscriptions",
        "newmedia_sfu_queue_depth_bytes",
        "newmedia_sfu_datagrams_in_total",
        "newmedia_sfu_bytes_in_total",
        "newmedia_sfu_datagrams_out_total",
        "newmedia_sfu_bytes_out_total",
        "newmedia_sfu_speaker_switches_total",
        "newmedia_sfu_retransmissions_served_total",
        "newmedia_sfu_keyframe_requests_total",
        "newmedia_sfu_layer_switches_total",
    ] {
        assert_eq!(sample(&text, name), 0.0, "{name}");
        assert!(text.contains(&format!("# HELP {name} ")), "{name}");
    }
    for reason in DropReason::ALL {
        let name = format!("newmedia_sfu_drops_total{{reason=\"{}\"}}", reason.as_str());
        assert_eq!(sample(&text, &name), 0.0);
    }
    for result in AdmissionResult::ALL {
        let name = format!(
            "newmedia_sfu_admissions_total{{result=\"{}\"}}",
            result.as_str()
        );
        assert_eq!(sample(&text, &name), 0.0);
    }
    for result in StunResult::ALL {
        let name = format!("newmedia_sfu_stun_total{{result=\"{}\"}}", result.as_str());
        assert_eq!(sample(&text, &name), 0.0);
    }
}

#[cfg(target_os = "linux")]
#[test]
fn process_cpu_and_memory_are_exported() {
    let text = SfuMetrics::new().unwrap().encode_text();
    assert!(sample(&text, "process_cpu_seconds_total") >= 0.0);
    assert!(sample(&text, "process_resident_memory_bytes") > 0.0);
}

#[test]
fn counts_show_in_the_exposition() {
    let m = SfuMetrics::new().unwrap();
    m.connections.set(4);
    m.queue_depth_bytes.set(17);
    m.datagrams_in_total.inc_by(1000);
    m.bytes_in_total.inc_by(1_100_000);
    m.datagrams_out_total.inc_by(50_000);
    m.drop_counter(DropReason::QueueFull).inc_by(3);
    m.drop_counter(DropReason::Malformed).inc();
    m.drops_total
        .with_label_values(&[DropReason::Malformed.as_str()])
        .inc();
    m.admission_counter(AdmissionResult::AcceptedGrant).inc();
    m.stun_counter(StunResult::Answered).inc_by(2);
    let text = m.try_encode_text().unwrap();
    assert_eq!(sample(&text, "newmedia_sfu_connections"), 4.0);
    assert_eq!(sample(&text, "newmedia_sfu_queue_depth_bytes"), 17.0);
    assert_eq!(sample(&text, "newmedia_sfu_datagrams_in_total"), 1000.0);
    assert_eq!(sample(&text, "newmedia_sfu_bytes_in_total"), 1_100_000.0);
    assert_eq!(sample(&text, "newmedia_sfu_datagrams_out_total"), 50_000.0);
    assert_eq!(
        sample(&text, "newmedia_sfu_drops_total{reason=\"queue_full\"}"),
        3.0
    );
    // The resolved counter and the labelled vector are the same series.
    assert_eq!(
        sample(&text, "newmedia_sfu_drops_total{reason=\"malformed\"}"),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            "newmedia_sfu_admissions_total{result=\"accepted_grant\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&text, "newmedia_sfu_stun_total{result=\"answered\"}"),
        2.0
    );
}

#[test]
fn label_values_are_distinct() {
    let drops: std::collections::HashSet<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(drops.len(), DropReason::ALL.len());
    let stun: std::collections::HashSet<_> = StunResult::ALL.iter().map(|r| r.as_str()).collect();
    assert_eq!(stun.len(), StunResult::ALL.len());
}

#[test]
fn two_instances_do_not_share_a_registry() {
    let a = SfuMetrics::new().unwrap();
    let b = SfuMetrics::new().unwrap();
    a.connections.set(1);
    assert_eq!(sample(&b.encode_text(), "newmedia_sfu_connections"), 0.0);
}
