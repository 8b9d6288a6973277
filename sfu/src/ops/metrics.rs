//! Prometheus metrics of one SFU node, served as text at `GET /metrics`.
//!
//! Every metric is a public field of a plain `prometheus` type so the forwarding code can
//! `inc_by` / `set` it directly. Hot paths count in local integers and flush now and then
//! (prometheus counters are atomics, but one shared cache line per datagram is still too much).
//! Labelled counters are resolved once here ([`SfuMetrics::drop_counter`] and friends) so
//! callers never look a label up per event, and every label value is exported from the start
//! (at 0) so dashboards and rate() see the series before the first event.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};
use thiserror::Error;

/// The `Content-Type` of [`SfuMetrics::encode_text`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why metrics could not be set up or encoded.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// A metric could not be created or registered (a name was used twice).
    #[error("cannot register metric: {0}")]
    Register(#[source] prometheus::Error),
    /// The text exposition could not be written.
    #[error("cannot encode metrics: {0}")]
    Encode(#[source] prometheus::Error),
}

/// Why a datagram was dropped (label `reason` of `newmedia_sfu_drops_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The datagram's headers did not parse (random bytes, truncated TLVs, huge lengths).
    Malformed,
    /// The sender may not publish the datagram's GlobalEncodingID.
    UnauthorizedEncoding,
    /// Nobody is subscribed to the GlobalEncodingID.
    NoRoute,
    /// A subscriber's queue was full (slow subscriber; non-reference messages go first).
    QueueFull,
    /// quinn refused to send the datagram.
    SendError,
}

impl DropReason {
    /// Every reason, in label order.
    pub const ALL: [DropReason; 5] = [
        DropReason::Malformed,
        DropReason::UnauthorizedEncoding,
        DropReason::NoRoute,
        DropReason::QueueFull,
        DropReason::SendError,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::UnauthorizedEncoding => "unauthorized_encoding",
            DropReason::NoRoute => "no_route",
            DropReason::QueueFull => "queue_full",
            DropReason::SendError => "send_error",
        }
    }
}

/// How an admission attempt ended (label `result` of `newmedia_sfu_admissions_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AdmissionResult {
    /// Admitted by a registered certificate fingerprint.
    AcceptedFingerprint,
    /// Admitted by a signed join grant.
    AcceptedGrant,
    /// Refused (unknown fingerprint, bad or expired grant, draining, ...).
    Refused,
}

impl AdmissionResult {
    /// Every result, in label order.
    pub const ALL: [AdmissionResult; 3] = [
        AdmissionResult::AcceptedFingerprint,
        AdmissionResult::AcceptedGrant,
        AdmissionResult::Refused,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AdmissionResult::AcceptedFingerprint => "accepted_fingerprint",
            AdmissionResult::AcceptedGrant => "accepted_grant",
            AdmissionResult::Refused => "refused",
        }
    }
}

/// What became of a STUN2 packet (label `result` of `newmedia_sfu_stun_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StunResult {
    /// A request was answered with the observed address.
    Answered,
    /// The packet did not decode as a STUN2 request.
    Bad,
    /// The packet did not authenticate with the node's secret (or with the empty secret while
    /// public STUN2 is off).
    Unauthenticated,
    /// The response could not be sent.
    SendError,
}

impl StunResult {
    /// Every result, in label order.
    pub const ALL: [StunResult; 4] = [
        StunResult::Answered,
        StunResult::Bad,
        StunResult::Unauthenticated,
        StunResult::SendError,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            StunResult::Answered => "answered",
            StunResult::Bad => "bad",
            StunResult::Unauthenticated => "unauthenticated",
            StunResult::SendError => "send_error",
        }
    }
}

/// The per-label children of the labelled counters, resolved once.
#[derive(Debug, Clone)]
struct Resolved {
    drops: [IntCounter; 5],
    stream_drops: [IntCounter; 5],
    admissions: [IntCounter; 3],
    stun: [IntCounter; 4],
}

/// The node's metrics, registered on their own [`Registry`] together with the process
/// collector (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ... on Linux).
#[derive(Debug, Clone)]
pub struct SfuMetrics {
    registry: Registry,
    resolved: Resolved,
    /// `newmedia_sfu_connections`: open QUIC connections.
    pub connections: IntGauge,
    /// `newmedia_sfu_conferences`: conferences with state on this node.
    pub conferences: IntGauge,
    /// `newmedia_sfu_subscriptions`: (subscriber, encoding) pairs being forwarded.
    pub subscriptions: IntGauge,
    /// `newmedia_sfu_queue_depth_bytes`: bytes waiting in subscribers' datagram send buffers, summed.
    pub queue_depth_bytes: IntGauge,
    /// `newmedia_sfu_datagrams_in_total`: datagrams received from endpoints.
    pub datagrams_in_total: IntCounter,
    /// `newmedia_sfu_bytes_in_total`: datagram payload bytes received.
    pub bytes_in_total: IntCounter,
    /// `newmedia_sfu_datagrams_out_total`: datagrams sent, from quinn's connection stats.
    pub datagrams_out_total: IntCounter,
    /// `newmedia_sfu_bytes_out_total`: UDP bytes sent, from quinn's connection stats.
    pub bytes_out_total: IntCounter,
    /// `newmedia_sfu_drops_total{reason}`: datagrams dropped; use [`SfuMetrics::drop_counter`].
    pub drops_total: IntCounterVec,
    /// `newmedia_sfu_speaker_switches_total`: changes of a conference's active-speaker set.
    pub speaker_switches_total: IntCounter,
    /// `newmedia_sfu_retransmissions_served_total`: messages resent from the cache.
    pub retransmissions_served_total: IntCounter,
    /// `newmedia_sfu_retransmissions_unavailable_total{reason}`: requested messages not
    /// resent, told to the requester: `withheld` (held back from it: speaker gate, layer
    /// filter) or `not_cached` (no longer in the cache).
    pub retransmissions_unavailable_total: IntCounterVec,
    /// `newmedia_sfu_keyframe_requests_total`: intra-frame requests sent to publishers.
    pub keyframe_requests_total: IntCounter,
    /// `newmedia_sfu_full_set_requests_total`: requests to audio publishers for the full
    /// header set (salt included) on their next message, for a subscriber that starts
    /// receiving them.
    pub full_set_requests_total: IntCounter,
    /// `newmedia_sfu_layer_switches_total`: subscriber encoding or layer changes.
    pub layer_switches_total: IntCounter,
    /// `newmedia_sfu_admissions_total{result}`: admission attempts; use
    /// [`SfuMetrics::admission_counter`].
    pub admissions_total: IntCounterVec,
    /// `newmedia_sfu_stun_total{result}`: STUN2 packets handled; use
    /// [`SfuMetrics::stun_counter`].
    pub stun_total: IntCounterVec,
    /// `newmedia_sfu_stream_messages_in_total`: data-stream messages received (PROTOCOL.md §13).
    pub stream_messages_in_total: IntCounter,
    /// `newmedia_sfu_stream_bytes_in_total`: bytes of those messages.
    pub stream_bytes_in_total: IntCounter,
    /// `newmedia_sfu_stream_messages_out_total`: data-stream messages written to subscribers.
    pub stream_messages_out_total: IntCounter,
    /// `newmedia_sfu_stream_resets_total`: subscriber data streams reset as too slow.
    pub stream_resets_total: IntCounter,
    /// `newmedia_sfu_stream_drops_total{reason}`: data-stream messages dropped; use
    /// [`SfuMetrics::stream_drop_counter`].
    pub stream_drops_total: IntCounterVec,
    /// `newmedia_sfu_turn2_connections`: open TURN2 relay connections.
    pub turn2_connections: IntGauge,
    /// `newmedia_sfu_turn2_allocations`: live TURN2 allocations.
    pub turn2_allocations: IntGauge,
    /// `newmedia_sfu_turn2_relayed_packets_total`: Relayed frames queued to connections.
    pub turn2_relayed_packets_total: IntCounter,
    /// `newmedia_sfu_turn2_relayed_bytes_total`: UDP payload bytes of those frames.
    pub turn2_relayed_bytes_total: IntCounter,
    /// `newmedia_sfu_turn2_drops_total{reason}`: inbound datagrams not relayed
    /// (`queue_full`: per connection; `no_connection`: the allocation had none).
    pub turn2_drops_total: IntCounterVec,
    /// `newmedia_sfu_turn2_errors_total{code}`: Error frames sent, by code name
    /// (`malformed_frame`, `unknown_fingerprint`, `fingerprint_mismatch`, `quota_exceeded`,
    /// `no_allocation`, `internal`).
    pub turn2_errors_total: IntCounterVec,
    /// `newmedia_sfu_controller_registered`: 1 while the controller accepts this node's
    /// registration and heartbeats.
    pub controller_registered: IntGauge,
    /// `newmedia_sfu_controller_registrations_total`: successful registrations.
    pub controller_registrations_total: IntCounter,
    /// `newmedia_sfu_controller_heartbeats_total`: heartbeats the controller accepted.
    pub controller_heartbeats_total: IntCounter,
    /// `newmedia_sfu_controller_failures_total`: registration and heartbeat calls that failed.
    pub controller_failures_total: IntCounter,
    /// `newmedia_sfu_check_reports_total{result}`: received STUN2 checks, by what became of
    /// their report (`reported`, `failed`, `unauthenticated`: opened only under the public
    /// secret, not reported).
    pub check_reports_total: IntCounterVec,
    /// `newmedia_sfu_downlink_checks_total`: downlink checks ordered by the controller.
    pub downlink_checks_total: IntCounter,
    /// `newmedia_sfu_downlink_requests_total`: STUN2 requests sent for them.
    pub downlink_requests_total: IntCounter,
    /// `newmedia_sfu_downlinks_installed_total`: downlinks installed.
    pub downlinks_installed_total: IntCounter,
    /// `newmedia_sfu_downlinks`: destinations currently redirected.
    pub downlinks: IntGauge,
}

/// The `code` label values of `newmedia_sfu_turn2_errors_total`, for codes 1-6.
pub const TURN2_ERROR_LABELS: [&str; 6] = [
    "malformed_frame",
    "unknown_fingerprint",
    "fingerprint_mismatch",
    "quota_exceeded",
    "no_allocation",
    "internal",
];

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, MetricsError> {
    let g = IntGauge::new(name, help).map_err(MetricsError::Register)?;
    registry
        .register(Box::new(g.clone()))
        .map_err(MetricsError::Register)?;
    Ok(g)
}

fn counter(registry: &Registry, name: &str, help: &str) -> Result<IntCounter, MetricsError> {
    let c = IntCounter::new(name, help).map_err(MetricsError::Register)?;
    registry
        .register(Box::new(c.clone()))
        .map_err(MetricsError::Register)?;
    Ok(c)
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    label: &str,
) -> Result<IntCounterVec, MetricsError> {
    let c = IntCounterVec::new(Opts::new(name, help), &[label]).map_err(MetricsError::Register)?;
    registry
        .register(Box::new(c.clone()))
        .map_err(MetricsError::Register)?;
    Ok(c)
}

fn resolve<const N: usize, T: Copy>(
    vec: &IntCounterVec,
    all: [T; N],
    name: impl Fn(T) -> &'static str,
) -> Result<[IntCounter; N], MetricsError> {
    let mut out = Vec::with_capacity(N);
    for v in all {
        out.push(
            vec.get_metric_with_label_values(&[name(v)])
                .map_err(MetricsError::Register)?,
        );
    }
    // The Vec has exactly N elements, so the conversion cannot fail; map anyway rather than
    // unwrap.
    out.try_into()
        .map_err(|_| MetricsError::Register(prometheus::Error::Msg("label count".into())))
}

impl SfuMetrics {
    /// Creates every metric and registers it, with the process collector, on a new registry.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .map_err(MetricsError::Register)?;
        let r = &registry;
        let drops_total = counter_vec(
            r,
            "newmedia_sfu_drops_total",
            "Datagrams dropped, by reason.",
            "reason",
        )?;
        let admissions_total = counter_vec(
            r,
            "newmedia_sfu_admissions_total",
            "Admission attempts, by result.",
            "result",
        )?;
        let stun_total = counter_vec(
            r,
            "newmedia_sfu_stun_total",
            "STUN2 packets handled, by result.",
            "result",
        )?;
        let stream_drops_total = counter_vec(
            r,
            "newmedia_sfu_stream_drops_total",
            "Data-stream messages dropped, by reason.",
            "reason",
        )?;
        let turn2_drops_total = counter_vec(
            r,
            "newmedia_sfu_turn2_drops_total",
            "Inbound TURN2 datagrams not relayed, by reason.",
            "reason",
        )?;
        let turn2_errors_total = counter_vec(
            r,
            "newmedia_sfu_turn2_errors_total",
            "TURN2 Error frames sent, by code.",
            "code",
        )?;
        for reason in ["queue_full", "no_connection"] {
            turn2_drops_total
                .get_metric_with_label_values(&[reason])
                .map_err(MetricsError::Register)?;
        }
        for code in TURN2_ERROR_LABELS {
            turn2_errors_total
                .get_metric_with_label_values(&[code])
                .map_err(MetricsError::Register)?;
        }
        let check_reports_total = counter_vec(
            r,
            "newmedia_sfu_check_reports_total",
            "Received STUN2 checks, by the fate of their report to the controller.",
            "result",
        )?;
        for result in ["reported", "failed", "unauthenticated"] {
            check_reports_total
                .get_metric_with_label_values(&[result])
                .map_err(MetricsError::Register)?;
        }
        let resolved = Resolved {
            drops: resolve(&drops_total, DropReason::ALL, DropReason::as_str)?,
            stream_drops: resolve(&stream_drops_total, DropReason::ALL, DropReason::as_str)?,
            admissions: resolve(
                &admissions_total,
                AdmissionResult::ALL,
                AdmissionResult::as_str,
            )?,
            stun: resolve(&stun_total, StunResult::ALL, StunResult::as_str)?,
        };
        Ok(SfuMetrics {
            connections: gauge(r, "newmedia_sfu_connections", "Open QUIC connections.")?,
            conferences: gauge(
                r,
                "newmedia_sfu_conferences",
                "Conferences with state on this node.",
            )?,
            subscriptions: gauge(
                r,
                "newmedia_sfu_subscriptions",
                "Subscriber-encoding pairs being forwarded.",
            )?,
            queue_depth_bytes: gauge(
                r,
                "newmedia_sfu_queue_depth_bytes",
                "Bytes waiting in subscribers' datagram send buffers, summed over connections.",
            )?,
            datagrams_in_total: counter(
                r,
                "newmedia_sfu_datagrams_in_total",
                "Datagrams received from endpoints.",
            )?,
            bytes_in_total: counter(
                r,
                "newmedia_sfu_bytes_in_total",
                "Datagram bytes received from endpoints.",
            )?,
            datagrams_out_total: counter(
                r,
                "newmedia_sfu_datagrams_out_total",
                "Datagrams sent (quinn connection stats).",
            )?,
            bytes_out_total: counter(
                r,
                "newmedia_sfu_bytes_out_total",
                "UDP bytes sent (quinn connection stats).",
            )?,
            speaker_switches_total: counter(
                r,
                "newmedia_sfu_speaker_switches_total",
                "Changes of a conference's active-speaker set.",
            )?,
            retransmissions_served_total: counter(
                r,
                "newmedia_sfu_retransmissions_served_total",
                "Messages resent from the retransmission cache.",
            )?,
            retransmissions_unavailable_total: {
                let c = counter_vec(
                    r,
                    "newmedia_sfu_retransmissions_unavailable_total",
                    "Requested messages not resent, by reason (withheld, not_cached).",
                    "reason",
                )?;
                // Both series exist from the start, at 0.
                resolve(&c, ["withheld", "not_cached"], |r| r)?;
                c
            },
            keyframe_requests_total: counter(
                r,
                "newmedia_sfu_keyframe_requests_total",
                "Intra-frame requests sent to publishers.",
            )?,
            full_set_requests_total: counter(
                r,
                "newmedia_sfu_full_set_requests_total",
                "Full header set requests sent to audio publishers for new receivers.",
            )?,
            layer_switches_total: counter(
                r,
                "newmedia_sfu_layer_switches_total",
                "Changes of a subscriber's encoding or layer.",
            )?,
            stream_messages_in_total: counter(
                r,
                "newmedia_sfu_stream_messages_in_total",
                "Data-stream messages received from endpoints.",
            )?,
            stream_bytes_in_total: counter(
                r,
                "newmedia_sfu_stream_bytes_in_total",
                "Bytes of data-stream messages received from endpoints.",
            )?,
            stream_messages_out_total: counter(
                r,
                "newmedia_sfu_stream_messages_out_total",
                "Data-stream messages written to subscribers' streams.",
            )?,
            stream_resets_total: counter(
                r,
                "newmedia_sfu_stream_resets_total",
                "Subscriber data streams reset because the subscriber fell too far behind.",
            )?,
            stream_drops_total,
            turn2_connections: gauge(
                r,
                "newmedia_sfu_turn2_connections",
                "Open TURN2 relay connections.",
            )?,
            turn2_allocations: gauge(
                r,
                "newmedia_sfu_turn2_allocations",
                "Live TURN2 allocations.",
            )?,
            turn2_relayed_packets_total: counter(
                r,
                "newmedia_sfu_turn2_relayed_packets_total",
                "Relayed frames queued to TURN2 connections.",
            )?,
            turn2_relayed_bytes_total: counter(
                r,
                "newmedia_sfu_turn2_relayed_bytes_total",
                "UDP payload bytes of relayed frames.",
            )?,
            turn2_drops_total,
            turn2_errors_total,
            controller_registered: gauge(
                r,
                "newmedia_sfu_controller_registered",
                "1 while the controller accepts this node's registration and heartbeats.",
            )?,
            controller_registrations_total: counter(
                r,
                "newmedia_sfu_controller_registrations_total",
                "Successful registrations with the controller.",
            )?,
            controller_heartbeats_total: counter(
                r,
                "newmedia_sfu_controller_heartbeats_total",
                "Heartbeats the controller accepted.",
            )?,
            controller_failures_total: counter(
                r,
                "newmedia_sfu_controller_failures_total",
                "Registration and heartbeat calls that failed.",
            )?,
            check_reports_total,
            downlink_checks_total: counter(
                r,
                "newmedia_sfu_downlink_checks_total",
                "Downlink checks ordered by the controller.",
            )?,
            downlink_requests_total: counter(
                r,
                "newmedia_sfu_downlink_requests_total",
                "STUN2 requests sent for downlink checks.",
            )?,
            downlinks_installed_total: counter(
                r,
                "newmedia_sfu_downlinks_installed_total",
                "Downlinks installed.",
            )?,
            downlinks: gauge(
                r,
                "newmedia_sfu_downlinks",
                "Destinations whose packets are redirected to a relay.",
            )?,
            drops_total,
            admissions_total,
            stun_total,
            resolved,
            registry,
        })
    }

    /// The registry holding every metric (to add more collectors).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The `newmedia_sfu_drops_total` counter for `reason`.
    pub fn drop_counter(&self, reason: DropReason) -> &IntCounter {
        let [malformed, unauthorized, no_route, queue_full, send_error] = &self.resolved.drops;
        match reason {
            DropReason::Malformed => malformed,
            DropReason::UnauthorizedEncoding => unauthorized,
            DropReason::NoRoute => no_route,
            DropReason::QueueFull => queue_full,
            DropReason::SendError => send_error,
        }
    }

    /// The `newmedia_sfu_stream_drops_total` counter for `reason`.
    pub fn stream_drop_counter(&self, reason: DropReason) -> &IntCounter {
        let [malformed, unauthorized, no_route, queue_full, send_error] =
            &self.resolved.stream_drops;
        match reason {
            DropReason::Malformed => malformed,
            DropReason::UnauthorizedEncoding => unauthorized,
            DropReason::NoRoute => no_route,
            DropReason::QueueFull => queue_full,
            DropReason::SendError => send_error,
        }
    }

    /// The `newmedia_sfu_admissions_total` counter for `result`.
    pub fn admission_counter(&self, result: AdmissionResult) -> &IntCounter {
        let [fingerprint, grant, refused] = &self.resolved.admissions;
        match result {
            AdmissionResult::AcceptedFingerprint => fingerprint,
            AdmissionResult::AcceptedGrant => grant,
            AdmissionResult::Refused => refused,
        }
    }

    /// The `newmedia_sfu_stun_total` counter for `result`.
    pub fn stun_counter(&self, result: StunResult) -> &IntCounter {
        let [answered, bad, unauthenticated, send_error] = &self.resolved.stun;
        match result {
            StunResult::Answered => answered,
            StunResult::Bad => bad,
            StunResult::Unauthenticated => unauthenticated,
            StunResult::SendError => send_error,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn try_encode_text(&self) -> Result<String, MetricsError> {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .map_err(MetricsError::Encode)
    }

    /// Like [`SfuMetrics::try_encode_text`], but logs a failure and returns an empty string.
    pub fn encode_text(&self) -> String {
        self.try_encode_text().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "metrics encoding failed");
            String::new()
        })
    }
}
