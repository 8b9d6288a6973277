//! The scenarios as plans: which conferences ("rooms") to make, which simulated endpoints
//! ("parties") each has, what each publishes and receives, and how they join. Pure: the run
//! ([`crate::run`]) carries a plan out.
//!
//! | scenario | rooms | publish | receive | join |
//! | --- | --- | --- | --- | --- |
//! | `fanout` | 1 | one party: video frames of exactly `frame_bytes` at `fps`, each independent (a reference frame), like a relay benchmark's objects | `subscribers` parties: the video | publisher creates, subscribers join one by one |
//! | `webinar` | 1 | one party: audio (talking throughout) and camera video, simulcast when asked | `subscribers`: audio and video | the same |
//! | `conference` | `rooms` | every party: audio (random talk spells) and camera video (simulcast) | every party: the others | each room created with all its parties |
//! | `audio-room` | 1 | `speakers` parties: audio in round-robin turns of `turn` seconds | speakers and `listeners`: audio | speakers create, listeners join one by one |
//!
//! Joining one by one measures each join on its own (REST call to first frame) and is also the
//! only way the controller's proposals reach late parties' receivers; a conference where
//! everyone publishes is created whole, because parties already connected do not pick up
//! the streams of later joiners (the SDK's agent does not re-join on a new proposal).

use crate::config::{LoadtestConfig, ScenarioKind};

/// How one party talks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Talk {
    /// Random talk spells and pauses.
    Random,
    /// Talking throughout (a presenter).
    Continuous,
    /// Turn `index` of the room's round-robin schedule.
    Turn(usize),
}

/// What one party's video is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Video {
    /// A camera: 1280x720 at `video_fps`, `video_bitrate`, simulcast when the room is.
    Camera,
    /// Fixed-size frames (`fanout`): `bytes` each at `fps`.
    Fixed {
        /// Frames per second.
        fps: u32,
        /// Bytes per frame.
        bytes: usize,
    },
}

/// One simulated endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyPlan {
    /// Its client ID at the controller.
    pub name: String,
    /// Publishes audio.
    pub audio: Option<Talk>,
    /// Publishes video.
    pub video: Option<Video>,
    /// Has an audio sink (receives the others' audio).
    pub receives_audio: bool,
    /// Has a video sink.
    pub receives_video: bool,
    /// Seed of its random choices.
    pub seed: u64,
}

impl PartyPlan {
    /// Whether it receives anything.
    pub fn receives(&self) -> bool {
        self.receives_audio || self.receives_video
    }
}

/// One conference.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomPlan {
    /// Its parties; the first `founders` create it together, the rest join one by one.
    pub parties: Vec<PartyPlan>,
    /// How many parties create the conference.
    pub founders: usize,
    /// Ask the controller for simulcast.
    pub simulcast: bool,
    /// More audio publishers than the SFU forwards: audio gaps may be speaker selection.
    pub audio_gated: bool,
    /// Round-robin turn length, seconds (audio room).
    pub turn_secs: Option<f64>,
}

/// A whole scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The scenario.
    pub kind: ScenarioKind,
    /// Its rooms.
    pub rooms: Vec<RoomPlan>,
}

impl Plan {
    /// Every party.
    pub fn parties(&self) -> impl Iterator<Item = &PartyPlan> {
        self.rooms.iter().flat_map(|r| r.parties.iter())
    }

    /// Number of parties.
    pub fn endpoint_count(&self) -> usize {
        self.rooms.iter().map(|r| r.parties.len()).sum()
    }
}

/// The plan of `config`'s scenario; client IDs start with `prefix` (unique per run, so runs
/// against one deployment never collide).
pub fn plan(config: &LoadtestConfig, prefix: &str) -> Plan {
    let seed = |i: usize| config.seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
    let party = |name: String, i: usize| PartyPlan {
        name,
        audio: None,
        video: None,
        receives_audio: false,
        receives_video: false,
        seed: seed(i),
    };
    let viewers = |first: usize, n: usize, audio: bool, video: bool, tag: &str| {
        (0..n)
            .map(|i| PartyPlan {
                receives_audio: audio,
                receives_video: video,
                ..party(format!("{prefix}-{tag}{i}"), first + i)
            })
            .collect::<Vec<_>>()
    };
    let rooms = match config.scenario {
        ScenarioKind::Fanout => {
            let mut parties = vec![PartyPlan {
                video: Some(Video::Fixed {
                    fps: config.fps,
                    bytes: config.frame_bytes,
                }),
                ..party(format!("{prefix}-pub"), 0)
            }];
            parties.extend(viewers(1, config.subscribers, false, true, "sub"));
            vec![RoomPlan {
                parties,
                founders: 1,
                simulcast: false,
                audio_gated: false,
                turn_secs: None,
            }]
        }
        ScenarioKind::Webinar => {
            let mut parties = vec![PartyPlan {
                audio: Some(Talk::Continuous),
                video: Some(Video::Camera),
                ..party(format!("{prefix}-presenter"), 0)
            }];
            parties.extend(viewers(1, config.subscribers, true, true, "sub"));
            vec![RoomPlan {
                parties,
                founders: 1,
                simulcast: config.simulcast,
                audio_gated: false,
                turn_secs: None,
            }]
        }
        ScenarioKind::Conference => (0..config.rooms)
            .map(|r| {
                let parties = (0..config.participants)
                    .map(|p| PartyPlan {
                        audio: Some(Talk::Random),
                        video: Some(Video::Camera),
                        receives_audio: true,
                        receives_video: true,
                        ..party(format!("{prefix}-r{r}p{p}"), r * config.participants + p)
                    })
                    .collect::<Vec<_>>();
                RoomPlan {
                    founders: parties.len(),
                    parties,
                    simulcast: config.simulcast,
                    audio_gated: config.participants > config.top_speakers,
                    turn_secs: None,
                }
            })
            .collect(),
        ScenarioKind::AudioRoom => {
            let mut parties: Vec<_> = (0..config.speakers)
                .map(|i| PartyPlan {
                    audio: Some(Talk::Turn(i)),
                    receives_audio: true,
                    ..party(format!("{prefix}-speaker{i}"), i)
                })
                .collect();
            parties.extend(viewers(
                config.speakers,
                config.listeners,
                true,
                false,
                "listener",
            ));
            vec![RoomPlan {
                parties,
                founders: config.speakers,
                simulcast: false,
                audio_gated: config.speakers > config.top_speakers,
                turn_secs: Some(config.turn),
            }]
        }
    };
    Plan {
        kind: config.scenario,
        rooms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> LoadtestConfig {
        LoadtestConfig::from_args_and_file(
            ["newmedia-loadtest", "--embedded"]
                .iter()
                .chain(args.iter())
                .copied(),
        )
        .unwrap()
    }

    #[test]
    fn fanout_is_one_fixed_publisher_and_n_video_subscribers() {
        let c = config(&[
            "fanout",
            "--subscribers",
            "3",
            "--fps",
            "25",
            "--frame-bytes",
            "900",
        ]);
        let p = plan(&c, "t");
        assert_eq!(p.endpoint_count(), c.endpoint_count());
        let room = &p.rooms[0];
        assert_eq!(
            (room.founders, room.simulcast, room.audio_gated),
            (1, false, false)
        );
        assert_eq!(
            room.parties[0].video,
            Some(Video::Fixed {
                fps: 25,
                bytes: 900
            })
        );
        assert!(!room.parties[0].receives());
        assert!(
            room.parties[1..]
                .iter()
                .all(|s| s.receives_video && !s.receives_audio)
        );
        assert!(
            room.parties[1..]
                .iter()
                .all(|s| s.audio.is_none() && s.video.is_none())
        );
        assert_eq!(room.parties[3].name, "t-sub2");
    }

    #[test]
    fn conference_rooms_publish_and_receive_everything() {
        let c = config(&["conference", "--rooms", "2", "--participants", "4"]);
        let p = plan(&c, "t");
        assert_eq!(p.rooms.len(), 2);
        for room in &p.rooms {
            assert_eq!(room.founders, 4);
            assert!(room.simulcast);
            assert!(room.audio_gated, "4 audio publishers and 3 forwarded");
            assert!(room.parties.iter().all(|x| x.audio == Some(Talk::Random)
                && x.video == Some(Video::Camera)
                && x.receives_audio
                && x.receives_video));
        }
        let names: std::collections::HashSet<_> = p.parties().map(|x| x.name.clone()).collect();
        assert_eq!(names.len(), 8, "client IDs are unique");
        let small = plan(&config(&["conference", "--participants", "3"]), "t");
        assert!(!small.rooms[0].audio_gated);
    }

    #[test]
    fn audio_room_speakers_take_turns_before_listeners_join() {
        let c = config(&[
            "audio-room",
            "--speakers",
            "5",
            "--listeners",
            "7",
            "--turn",
            "2",
        ]);
        let p = plan(&c, "t");
        let room = &p.rooms[0];
        assert_eq!((room.founders, room.parties.len()), (5, 12));
        assert_eq!(room.turn_secs, Some(2.0));
        assert!(room.audio_gated);
        assert_eq!(room.parties[4].audio, Some(Talk::Turn(4)));
        assert!(
            room.parties[5..]
                .iter()
                .all(|l| l.audio.is_none() && l.receives_audio && !l.receives_video)
        );
    }

    #[test]
    fn webinar_has_one_presenter() {
        let p = plan(
            &config(&["webinar", "--subscribers", "4", "--simulcast", "false"]),
            "t",
        );
        let room = &p.rooms[0];
        assert_eq!(room.parties[0].audio, Some(Talk::Continuous));
        assert!(!room.simulcast);
        assert_eq!(room.parties.len(), 5);
        assert_ne!(room.parties[1].seed, room.parties[2].seed);
    }
}
