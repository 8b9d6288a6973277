//! One run: start or reach the target, register every endpoint, join them room by room,
//! warm up, measure for the window, stop publishing, wait for frames in flight, stop
//! receiving, clean up, and hand the raw [`Measurements`] to the report.
//!
//! Server figures are scraped before any endpoint exists (the RSS baseline) and when the
//! window opens and closes (CPU seconds and counters over the window). The load generator's
//! own CPU and RSS are taken at the same moments.

use crate::clock;
use crate::config::LoadtestConfig;
use crate::endpoint::{self, AUDIO_ID, EndpointError};
use crate::media::talk::{TalkPattern, Talker, TurnSchedule};
use crate::media::video::{Sizing, VideoSizer};
use crate::procstat;
use crate::progress::Progress;
use crate::publish::{self, PublisherOutcome, Source};
use crate::receive::{self, Live, ReadSettings, TrackOutcome};
use crate::scenario::{self, PartyPlan, Plan, RoomPlan, Talk, Video};
use crate::scrape::ServerSample;
use crate::stats::{SpeakerHistory, TrackKind, Window};
use crate::target::{Target, TargetError};
use newmedia_client::agent::Agent;
use newmedia_client::client::{Call, CallPublisher};
use newmedia_client::signaling::RestClient;
use newmedia_proto::signaling::MediaType;
use newmedia_proto::signaling::rest::CreateConference;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::{JoinHandle, JoinSet};

/// Registrations in flight at once.
const REGISTER_CONCURRENCY: usize = 16;
/// Mean talk spell of a conference participant.
const TALK_MEAN: Duration = Duration::from_millis(1500);
/// Mean pause of a conference participant.
const SILENCE_MEAN: Duration = Duration::from_millis(3000);
/// How long a join holds its slot waiting for its first frame.
const FIRST_FRAME_WAIT: Duration = Duration::from_secs(10);
/// How long closing the clients may take at the end.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Why a run failed.
#[derive(Debug, Error)]
pub enum RunError {
    /// The target could not be started or reached.
    #[error(transparent)]
    Target(#[from] TargetError),
    /// An endpoint could not be set up or joined.
    #[error("endpoint {name}: {source}")]
    Endpoint {
        /// Its client ID.
        name: String,
        /// Why.
        #[source]
        source: EndpointError,
    },
    /// The join phase did not end within `join_timeout`.
    #[error("joining did not finish within {0:?}")]
    JoinTimeout(Duration),
}

fn endpoint_error(name: &str) -> impl FnOnce(EndpointError) -> RunError + '_ {
    move |source| RunError::Endpoint {
        name: name.to_owned(),
        source,
    }
}

/// One finished track with the endpoint that received it.
#[derive(Debug)]
pub struct FinishedTrack {
    /// Index of the receiving endpoint in [`Measurements::endpoints`].
    pub endpoint: usize,
    /// Its outcome, finished (tail losses, gated gaps judged).
    pub outcome: TrackOutcome,
}

/// Per-endpoint results.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointResult {
    /// Client ID.
    pub name: String,
    /// Whether it has sinks.
    pub receives: bool,
    /// Whether it publishes.
    pub publishes: bool,
    /// Whether its join is timed: not for audio-room speakers, who hear nothing until
    /// another speaker's turn.
    pub join_timed: bool,
    /// Tracks the scenario expects it to receive.
    pub tracks_expected: usize,
    /// From its join call (or its room's creation) to its first frame, microseconds.
    pub join_micros: Option<u64>,
    /// From the join call to its answer, microseconds.
    pub join_rest_micros: u64,
    /// From the join call to the call connected (proposal, Snowflake, consent, QUIC,
    /// subscriptions), microseconds.
    pub join_connect_micros: u64,
    /// UDP bits its flow received during the window.
    pub wire_bits: u64,
}

/// Everything a run measured.
#[derive(Debug)]
pub struct Measurements {
    /// The target, as described to people.
    pub target: String,
    /// Whether the server figures include the load generator.
    pub shares_process: bool,
    /// Whether the server's CPU time came from `/proc` (our child process) rather than its
    /// whole-second `process_cpu_seconds_total`.
    pub cpu_from_proc: bool,
    /// Every endpoint.
    pub endpoints: Vec<EndpointResult>,
    /// Every received track.
    pub tracks: Vec<FinishedTrack>,
    /// Every published encoding.
    pub publishers: Vec<PublisherOutcome>,
    /// Speaker switch times (audio room), microseconds.
    pub speaker_switches: Vec<u64>,
    /// Turns whose speaker did not become the loudest within the turn, per observer.
    pub missed_speaker_switches: u64,
    /// The window, seconds.
    pub window_secs: f64,
    /// Registering and joining took, seconds.
    pub setup_secs: f64,
    /// The server before any endpoint, at the window's start and at its end.
    pub server: [Option<ServerSample>; 3],
    /// The first scrape error, if any.
    pub scrape_error: Option<String>,
    /// Generator CPU time during the window.
    pub generator_cpu: Duration,
    /// Generator RSS before any endpoint and at the window's end, bytes.
    pub generator_rss: [Option<u64>; 2],
}

/// What every task of a run shares.
struct Shared {
    window: Arc<Window>,
    live: Arc<Live>,
    stop_publishing: watch::Sender<bool>,
    stop_receiving: watch::Sender<bool>,
    config: LoadtestConfig,
}

/// A registered, not yet joined endpoint.
struct Member {
    index: usize,
    plan: PartyPlan,
    agent: Agent,
}

/// What a room needs to know while its endpoints start.
#[derive(Clone)]
struct RoomContext {
    plan: RoomPlan,
    turns: Option<TurnSchedule>,
}

/// A joined endpoint and its tasks.
struct Running {
    index: usize,
    plan: PartyPlan,
    agent: Agent,
    call: Call,
    endpoint_id: u64,
    join_start: u64,
    /// When the REST call answered and when the call was connected, wall-clock µs.
    rest_done: u64,
    connected: u64,
    tracks_expected: usize,
    /// Notified by the first frame of any of its tracks.
    first_frame: Arc<Notify>,
    readers: Vec<JoinHandle<TrackOutcome>>,
    speakers: Option<JoinHandle<SpeakerHistory>>,
    publishers: Vec<JoinHandle<PublisherOutcome>>,
    wire_bits_open: u64,
    wire_bits_close: u64,
}

struct RoomRun {
    conference_id: u64,
    context: RoomContext,
    endpoints: Vec<Running>,
}

/// Runs `config`'s scenario against its target.
pub async fn run(config: &LoadtestConfig, progress: &Progress) -> Result<Measurements, RunError> {
    progress.note(&format!("starting target for {}", config.scenario.name()));
    let target = Target::start(config).await?;
    progress.note(&format!("target: {}", target.description));
    let result = run_on(&target, config, progress).await;
    target.stop().await;
    result
}

/// The nodes' figures now. When the SFU is our child process its CPU time comes from
/// `/proc` instead: `process_cpu_seconds_total` counts whole seconds only.
async fn scrape(target: &Target, error: &mut Option<String>) -> Option<ServerSample> {
    if target.scraper.is_empty() {
        return None;
    }
    match target.scraper.sample().await {
        Ok(mut s) => {
            if let Some(cpu) = target.sfu_pid().and_then(procstat::process_cpu_seconds) {
                s.cpu_seconds = Some(cpu);
            }
            Some(s)
        }
        Err(e) => {
            error.get_or_insert(e.to_string());
            None
        }
    }
}

fn wire_bits(rooms: &[RoomRun]) -> impl Iterator<Item = u64> + '_ {
    rooms
        .iter()
        .flat_map(|r| r.endpoints.iter())
        .map(|e| e.call.flow_metrics().bits_received)
}

async fn run_on(
    target: &Target,
    config: &LoadtestConfig,
    progress: &Progress,
) -> Result<Measurements, RunError> {
    let prefix = format!("lt{:06x}", rand::random::<u32>() & 0xff_ffff);
    let plan = scenario::plan(config, &prefix);
    let rest = RestClient::new(&target.controller_url, &target.api_key);
    let mut scrape_error = None;
    let server_base = scrape(target, &mut scrape_error).await;
    let generator_rss_base = procstat::rss_bytes();
    let join_timeout = Duration::from_secs_f64(config.join_timeout);
    let setup_start = clock::now();
    let deadline = setup_start + join_timeout;

    let members = tokio::time::timeout(
        join_timeout,
        register_all(target, &rest, &plan, config, progress, deadline),
    )
    .await
    .map_err(|_| RunError::JoinTimeout(join_timeout))??;

    let (stop_publishing, _) = watch::channel(false);
    let (stop_receiving, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        window: Arc::new(Window::default()),
        live: Arc::new(Live::default()),
        stop_publishing,
        stop_receiving,
        config: config.clone(),
    });
    progress.phase("joining", plan.endpoint_count() as u64, "endpoints");
    let start_micros = clock::wall_micros();
    let mut room_tasks = Vec::new();
    for (room, members) in plan.rooms.iter().zip(members) {
        let turns = room.turn_secs.map(|t| TurnSchedule {
            start_micros,
            turn_micros: (t * 1e6) as u64,
            speakers: room.founders,
        });
        let context = RoomContext {
            plan: room.clone(),
            turns,
        };
        room_tasks.push(join_room(
            rest.clone(),
            context,
            members,
            shared.clone(),
            progress,
            deadline,
        ));
    }
    let joined = tokio::time::timeout_at(deadline.into(), futures_join_all(room_tasks))
        .await
        .map_err(|_| RunError::JoinTimeout(join_timeout))?;
    let mut rooms = Vec::new();
    let mut first_error = None;
    for r in joined {
        match r {
            Ok(room) => rooms.push(room),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let setup_secs = (clock::now() - setup_start).as_secs_f64();
    if let Some(e) = first_error {
        shutdown(&rest, rooms, &shared).await;
        return Err(e);
    }
    progress.note(&format!(
        "{} endpoints joined in {setup_secs:.1} s",
        plan.endpoint_count()
    ));

    // Warm up, then measure.
    progress.phase("warmup", 1, "");
    tokio::time::sleep(Duration::from_secs_f64(config.warmup)).await;
    let server_open = scrape(target, &mut scrape_error).await;
    let cpu_open = procstat::cpu_time();
    let wire_open: Vec<u64> = wire_bits(&rooms).collect();
    shared.window.open(clock::wall_micros());
    measure(config, &shared, progress).await;
    shared.window.close(clock::wall_micros());
    let server_close = scrape(target, &mut scrape_error).await;
    let generator_cpu = procstat::cpu_time().saturating_sub(cpu_open);
    let generator_rss = procstat::rss_bytes();
    let wire_close: Vec<u64> = wire_bits(&rooms).collect();
    for (e, (open, close)) in rooms
        .iter_mut()
        .flat_map(|r| r.endpoints.iter_mut())
        .zip(wire_open.into_iter().zip(wire_close))
    {
        e.wire_bits_open = open;
        e.wire_bits_close = close;
    }

    // Stop publishing; let frames in flight arrive; stop receiving.
    progress.phase("draining", 1, "");
    let _ = shared.stop_publishing.send(true);
    let mut publishers = Vec::new();
    for e in rooms.iter_mut().flat_map(|r| r.endpoints.iter_mut()) {
        for h in e.publishers.drain(..) {
            if let Ok(outcome) = h.await {
                publishers.push(outcome);
            }
        }
    }
    tokio::time::sleep(Duration::from_secs_f64(config.drain)).await;
    let _ = shared.stop_receiving.send(true);
    let sent: HashMap<u64, _> = publishers
        .iter()
        .filter_map(|p| p.sent.map(|s| (p.encoding, s)))
        .collect();
    let (window_start, window_end) = (
        shared.window.start().unwrap_or_default(),
        shared.window.end().unwrap_or_default(),
    );

    let mut endpoints = Vec::new();
    let mut tracks = Vec::new();
    let mut speaker_switches = Vec::new();
    let mut missed_speaker_switches = 0;
    for room in &mut rooms {
        room.endpoints.sort_by_key(|e| e.index);
        let speaker_ids: Vec<u64> = room
            .endpoints
            .iter()
            .filter(|e| matches!(e.plan.audio, Some(Talk::Turn(_))))
            .map(|e| e.endpoint_id)
            .collect();
        for e in &mut room.endpoints {
            let history = match e.speakers.take() {
                Some(h) => h.await.ok(),
                None => None,
            };
            let mut first_arrival: Option<u64> = None;
            let slot = endpoints.len();
            for h in e.readers.drain(..) {
                let Ok(mut outcome) = h.await else { continue };
                let current = outcome.stats.current_encoding();
                outcome.stats.finish(
                    window_start,
                    window_end,
                    current.and_then(|c| sent.get(&c).copied()),
                    history.as_ref(),
                );
                if let Some(t) = outcome.stats.first_arrival {
                    first_arrival = Some(first_arrival.map_or(t, |f| f.min(t)));
                }
                tracks.push(FinishedTrack {
                    endpoint: slot,
                    outcome,
                });
            }
            if let (Some(turns), Some(h)) = (room.context.turns, &history) {
                let (got, missed) =
                    speaker_switch_times(turns, &speaker_ids, h, window_start, window_end);
                speaker_switches.extend(got);
                missed_speaker_switches += missed;
            }
            endpoints.push(EndpointResult {
                name: e.plan.name.clone(),
                receives: e.plan.receives(),
                publishes: e.plan.audio.is_some() || e.plan.video.is_some(),
                join_timed: e.plan.receives() && !matches!(e.plan.audio, Some(Talk::Turn(_))),
                tracks_expected: e.tracks_expected,
                join_micros: first_arrival.map(|t| t.saturating_sub(e.join_start)),
                join_rest_micros: e.rest_done.saturating_sub(e.join_start),
                join_connect_micros: e.connected.saturating_sub(e.join_start),
                wire_bits: e.wire_bits_close.saturating_sub(e.wire_bits_open),
            });
        }
    }
    shutdown(&rest, rooms, &shared).await;
    progress.finish();
    Ok(Measurements {
        target: target.description.clone(),
        shares_process: target.shares_process,
        cpu_from_proc: target.sfu_pid().is_some(),
        endpoints,
        tracks,
        publishers,
        speaker_switches,
        missed_speaker_switches,
        window_secs: shared.window.seconds().unwrap_or_default(),
        setup_secs,
        server: [server_base, server_open, server_close],
        scrape_error,
        generator_cpu,
        generator_rss: [generator_rss_base, generator_rss],
    })
}

/// `join_all` for a few futures without pulling in another crate: they run concurrently on
/// one task (each is mostly waiting).
async fn futures_join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in pinned.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// The progress display during the window.
async fn measure(config: &LoadtestConfig, shared: &Shared, progress: &Progress) {
    let length = Duration::from_secs_f64(config.duration);
    progress.phase("measuring", length.as_millis() as u64, "ms");
    let start = clock::now();
    let mut ticker = tokio::time::interval(Duration::from_millis(250));
    let (mut frames, mut bytes, mut at) = (0u64, 0u64, start);
    loop {
        ticker.tick().await;
        let now = clock::now();
        let elapsed = now - start;
        if elapsed >= length {
            break;
        }
        let f = shared.live.frames.load(Relaxed);
        let b = shared.live.bytes.load(Relaxed);
        let dt = (now - at).as_secs_f64().max(1e-3);
        let message = format!(
            "{:.0} frames/s, {:.1} Mbit/s delivered",
            (f - frames) as f64 / dt,
            (b - bytes) as f64 * 8.0 / dt / 1e6
        );
        (frames, bytes, at) = (f, b, now);
        progress.update(elapsed.as_millis() as u64, message);
        let rest = length - elapsed;
        if rest < Duration::from_millis(250) {
            tokio::time::sleep(rest).await;
            break;
        }
    }
}

async fn register_all(
    target: &Target,
    rest: &RestClient,
    plan: &Plan,
    config: &LoadtestConfig,
    progress: &Progress,
    deadline: Instant,
) -> Result<Vec<Vec<Member>>, RunError> {
    progress.phase("register", plan.endpoint_count() as u64, "endpoints");
    let limit = Arc::new(Semaphore::new(REGISTER_CONCURRENCY));
    let mut set = JoinSet::new();
    for (room, r) in plan.rooms.iter().enumerate() {
        for (index, party) in r.parties.iter().enumerate() {
            let (url, rest, party, config, limit) = (
                target.controller_url.clone(),
                rest.clone(),
                party.clone(),
                config.clone(),
                limit.clone(),
            );
            set.spawn(async move {
                let _permit = limit.acquire_owned().await;
                let within = deadline.saturating_duration_since(clock::now());
                let agent = endpoint::register(&url, &rest, &party, &config, within)
                    .await
                    .map_err(endpoint_error(&party.name))?;
                Ok::<_, RunError>((
                    room,
                    Member {
                        index,
                        plan: party,
                        agent,
                    },
                ))
            });
        }
    }
    let mut rooms: Vec<Vec<Member>> = plan.rooms.iter().map(|_| Vec::new()).collect();
    while let Some(done) = set.join_next().await {
        let Ok(done) = done else { continue };
        let (room, member) = done?;
        progress.inc();
        if let Some(r) = rooms.get_mut(room) {
            r.push(member);
        }
    }
    for r in &mut rooms {
        r.sort_by_key(|m| m.index);
    }
    Ok(rooms)
}

/// Creates the room with its founders, then joins the others one by one (at most
/// `join_concurrency` at once).
async fn join_room(
    rest: RestClient,
    context: RoomContext,
    mut members: Vec<Member>,
    shared: Arc<Shared>,
    progress: &Progress,
    deadline: Instant,
) -> Result<RoomRun, RunError> {
    let joiners = members.split_off(context.plan.founders.min(members.len()));
    let founders = members;
    let created_at = clock::wall_micros();
    let first = founders
        .first()
        .map(|m| m.plan.name.clone())
        .unwrap_or_default();
    let conference = rest
        .create_conference(&CreateConference {
            parties: founders.iter().map(|m| m.plan.name.clone()).collect(),
            simulcast: context.plan.simulcast,
            keys: Default::default(),
            aead: None,
            wait: false,
        })
        .await
        .map_err(|source| RunError::Endpoint {
            name: first,
            source: EndpointError::Rest {
                what: "POST /v1/conferences",
                source,
            },
        })?;
    let conference_id = conference.conference_id;
    let created = clock::wall_micros();
    let mut room = RoomRun {
        conference_id,
        context: context.clone(),
        endpoints: Vec::new(),
    };
    let mut set = JoinSet::new();
    for m in founders {
        set.spawn(enter(
            m,
            (created_at, created),
            context.clone(),
            shared.clone(),
            deadline,
        ));
    }
    let mut first_error = None;
    while let Some(done) = set.join_next().await {
        match done {
            Ok(Ok(running)) => {
                progress.inc();
                room.endpoints.push(running);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {}
        }
    }
    if let Some(e) = first_error {
        shutdown(&rest, vec![room], &shared).await;
        return Err(e);
    }
    let limit = Arc::new(Semaphore::new(shared.config.join_concurrency));
    for m in joiners {
        let (rest, context, shared, limit) =
            (rest.clone(), context.clone(), shared.clone(), limit.clone());
        set.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let join_start = clock::wall_micros();
            rest.join(conference_id, &m.plan.name, false)
                .await
                .map_err(|source| RunError::Endpoint {
                    name: m.plan.name.clone(),
                    source: EndpointError::Rest {
                        what: "POST /v1/conferences/{id}/parties",
                        source,
                    },
                })?;
            let rest_done = clock::wall_micros();
            let running = enter(m, (join_start, rest_done), context, shared, deadline).await?;
            // The permit is held until the first frame (bounded), so with one join at a time
            // each is timed on its own.
            if running.plan.receives() {
                let within = deadline
                    .saturating_duration_since(clock::now())
                    .min(FIRST_FRAME_WAIT);
                let _ = tokio::time::timeout(within, running.first_frame.notified()).await;
            }
            Ok(running)
        });
    }
    while let Some(done) = set.join_next().await {
        match done {
            Ok(Ok(running)) => {
                progress.inc();
                room.endpoints.push(running);
            }
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(_) => {}
        }
    }
    match first_error {
        Some(e) => {
            shutdown(&rest, vec![room], &shared).await;
            Err(e)
        }
        None => Ok(room),
    }
}

/// Waits for `m`'s call and starts its publishers and receivers at once (so its first frame
/// is seen as it arrives).
async fn enter(
    mut m: Member,
    (join_start, rest_done): (u64, u64),
    context: RoomContext,
    shared: Arc<Shared>,
    deadline: Instant,
) -> Result<Running, RunError> {
    let within = deadline.saturating_duration_since(clock::now());
    let (_, mut call) = tokio::time::timeout(within, m.agent.next_call())
        .await
        .map_err(|_| endpoint_error(&m.plan.name)(EndpointError::Timeout("the call")))?
        .map_err(|e| endpoint_error(&m.plan.name)(EndpointError::Agent(e)))?;
    let connected = clock::wall_micros();
    let endpoint_id = call.flow().endpoint_id();
    let config = &shared.config;
    let mut publishers = Vec::new();
    for (i, (stream, p)) in call.publishers().iter().enumerate() {
        let CallPublisher::Media(p) = p else { continue };
        let seed = m.plan.seed.wrapping_mul(31).wrapping_add(i as u64);
        let source = match (stream.kind.clone(), m.plan.audio, m.plan.video) {
            (MediaType::Audio, Some(talk), _) => {
                let pattern = match talk {
                    Talk::Random => TalkPattern::Random {
                        talk_mean_micros: TALK_MEAN.as_micros() as u64,
                        silence_mean_micros: SILENCE_MEAN.as_micros() as u64,
                    },
                    Talk::Continuous => TalkPattern::Continuous,
                    Talk::Turn(index) => match context.turns {
                        Some(schedule) => TalkPattern::Turns { schedule, index },
                        None => TalkPattern::Continuous,
                    },
                };
                Source::Audio(Talker::new(pattern, config.audio_bitrate, seed))
            }
            (MediaType::Video, _, Some(Video::Camera)) => {
                let fps = f64::from(stream.limits.frame_rate.unwrap_or(config.video_fps));
                let bitrate = stream.limits.max_bitrate.unwrap_or(config.video_bitrate);
                Source::Video {
                    sizer: VideoSizer::new(
                        Sizing::Bitrate(bitrate),
                        fps,
                        config.reference_interval,
                        seed,
                    ),
                    fps,
                    size: stream.limits.width.zip(stream.limits.height),
                }
            }
            (MediaType::Video, _, Some(Video::Fixed { fps, bytes })) => Source::Video {
                // Independent objects, as in a relay benchmark: every frame is a reference
                // frame (and carries the full header set), so a late subscriber opens the
                // next one.
                sizer: VideoSizer::new(Sizing::Fixed(bytes), f64::from(fps), 0.0, seed),
                fps: f64::from(fps),
                size: None,
            },
            _ => continue,
        };
        publishers.push(tokio::spawn(publish::run(
            p.clone(),
            source,
            shared.window.clone(),
            shared.stop_publishing.subscribe(),
        )));
    }
    let switch_every = (context.plan.simulcast && config.layer_switch_interval > 0.0)
        .then(|| Duration::from_secs_f64(config.layer_switch_interval));
    let mut readers = Vec::new();
    let first_frame = Arc::new(Notify::new());
    for (i, sub) in call.take_subscriptions().into_iter().enumerate() {
        let kind = if sub.settings.sink_id == AUDIO_ID {
            TrackKind::Audio
        } else {
            TrackKind::Video
        };
        let settings = ReadSettings {
            kind,
            gated: kind == TrackKind::Audio && context.plan.audio_gated,
            switch_every: switch_every.filter(|_| kind == TrackKind::Video),
            seed: m.plan.seed.wrapping_mul(17).wrapping_add(i as u64),
            first_frame: first_frame.clone(),
        };
        readers.push(tokio::spawn(receive::read(
            sub,
            call.flow().clone(),
            settings,
            shared.window.clone(),
            shared.live.clone(),
            shared.stop_receiving.subscribe(),
        )));
    }
    let watch_speakers =
        m.plan.receives_audio && (context.plan.audio_gated || context.turns.is_some());
    let speakers = watch_speakers.then(|| {
        tokio::spawn(receive::watch_speakers(
            call.flow().clone(),
            shared.stop_receiving.subscribe(),
        ))
    });
    let tracks_expected = expected_tracks(&context.plan, m.index);
    Ok(Running {
        index: m.index,
        plan: m.plan,
        agent: m.agent,
        call,
        endpoint_id,
        join_start,
        rest_done,
        connected,
        tracks_expected,
        first_frame,
        readers,
        speakers,
        publishers,
        wire_bits_open: 0,
        wire_bits_close: 0,
    })
}

/// Tracks party `index` of `room` should receive: each other party's audio and video that it
/// has a sink for.
pub fn expected_tracks(room: &RoomPlan, index: usize) -> usize {
    let Some(me) = room.parties.get(index) else {
        return 0;
    };
    room.parties
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != index)
        .map(|(_, p)| {
            usize::from(p.audio.is_some() && me.receives_audio)
                + usize::from(p.video.is_some() && me.receives_video)
        })
        .sum()
}

/// Speaker-switch times one observer saw: for each turn wholly inside the window, from the
/// turn's start to the observer hearing that its speaker became the loudest; a turn where
/// that did not happen before the next turn is missed.
pub fn speaker_switch_times(
    turns: TurnSchedule,
    speakers: &[u64],
    history: &SpeakerHistory,
    window_start: u64,
    window_end: u64,
) -> (Vec<u64>, u64) {
    let mut times = Vec::new();
    let mut missed = 0;
    if turns.speakers < 2 {
        return (times, missed);
    }
    let Some(first) = turns.turn_at(window_start) else {
        return (times, missed);
    };
    let mut turn = first + 1;
    loop {
        let start = turns.turn_start(turn);
        let end = turns.turn_start(turn + 1);
        if end > window_end {
            break;
        }
        if let Some(&speaker) = speakers.get(turns.speaker_of(turn)) {
            match history.became_leader(speaker, start).filter(|t| *t < end) {
                Some(t) => times.push(t - start),
                None => missed += 1,
            }
        }
        turn += 1;
    }
    (times, missed)
}

/// Ends the rooms at the controller and closes every endpoint.
async fn shutdown(rest: &RestClient, rooms: Vec<RoomRun>, shared: &Shared) {
    let _ = shared.stop_publishing.send(true);
    let _ = shared.stop_receiving.send(true);
    let mut agents = Vec::new();
    for room in rooms {
        if let Err(e) = rest.end(room.conference_id).await {
            tracing::debug!(error = %e, "conference not ended");
        }
        for e in room.endpoints {
            e.call.leave();
            for h in e.readers {
                h.abort();
            }
            if let Some(h) = e.speakers {
                h.abort();
            }
            for h in e.publishers {
                h.abort();
            }
            agents.push(e.agent);
        }
    }
    let close = async {
        let mut set = JoinSet::new();
        for agent in agents {
            set.spawn(async move { agent.client().close().await });
        }
        while set.join_next().await.is_some() {}
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, close).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_tracks_count_the_others_sources_we_can_play() {
        let config = LoadtestConfig::from_args_and_file([
            "newmedia-loadtest",
            "--embedded",
            "conference",
            "--participants",
            "4",
        ])
        .unwrap();
        let plan = scenario::plan(&config, "t");
        assert_eq!(expected_tracks(&plan.rooms[0], 0), 6);
        let fanout = scenario::plan(
            &LoadtestConfig::from_args_and_file(["x", "--embedded", "--subscribers", "2"]).unwrap(),
            "t",
        );
        assert_eq!(expected_tracks(&fanout.rooms[0], 0), 0);
        assert_eq!(expected_tracks(&fanout.rooms[0], 2), 1);
        assert_eq!(expected_tracks(&fanout.rooms[0], 9), 0);
    }

    #[test]
    fn speaker_switches_are_timed_from_each_turn_start() {
        const S: u64 = 1_000_000;
        let turns = TurnSchedule {
            start_micros: 0,
            turn_micros: 3 * S,
            speakers: 3,
        };
        let ids = [10, 11, 12];
        let mut h = SpeakerHistory::default();
        h.update(S, &[10]);
        h.update(3 * S + 800_000, &[11, 10]); // turn 1: 0.8 s
        h.update(6 * S + 700_000, &[12, 11, 10]); // turn 2: 0.7 s
        // turn 3 (speaker 10 again) never leads: missed
        h.update(12 * S + 900_000, &[11, 12, 10]); // turn 4: 0.9 s
        // Window 2 s .. 15 s: turns 1 to 4 lie wholly inside.
        let (times, missed) = speaker_switch_times(turns, &ids, &h, 2 * S, 15 * S);
        assert_eq!(times, vec![800_000, 700_000, 900_000]);
        assert_eq!(missed, 1);
        let one = TurnSchedule {
            speakers: 1,
            ..turns
        };
        assert_eq!(speaker_switch_times(one, &ids, &h, 0, 15 * S), (vec![], 0));
    }
}
