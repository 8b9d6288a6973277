//! The progress display: an indicatif bar on stderr while registering, joining and measuring
//! (drawn only on a terminal), and one line per phase on stderr otherwise, so CI logs show
//! where a run is.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The progress display of one run.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    quiet: bool,
}

impl Progress {
    /// A display on stderr; `quiet` shows nothing at all.
    pub fn new(quiet: bool) -> Self {
        let bar = if quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        Self { bar, quiet }
    }

    /// A display that shows nothing (tests).
    pub fn hidden() -> Self {
        Self::new(true)
    }

    /// Starts a phase of `len` steps.
    pub fn phase(&self, name: &str, len: u64, unit: &str) {
        self.bar.reset();
        self.bar.set_length(len);
        self.bar.set_position(0);
        let template = format!("{{prefix:>10}} [{{bar:40}}] {{pos}}/{{len}} {unit} {{msg}}");
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar.set_style(style.progress_chars("=> "));
        }
        self.bar.set_prefix(name.to_owned());
        self.bar.set_message("");
    }

    /// One step done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Sets the position and the message after the bar.
    pub fn update(&self, position: u64, message: String) {
        self.bar.set_position(position);
        self.bar.set_message(message);
    }

    /// A line above the bar (or on stderr when no bar is drawn).
    pub fn note(&self, line: &str) {
        if self.quiet {
            return;
        }
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
