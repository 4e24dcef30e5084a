//! The file state of one client: files being received and sent, and the
//! download folder. Shared by the reader thread (which owns the received
//! files) and the callers; `transfer.rs` holds what is done with it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use tempfile::NamedTempFile;

/// Name of the download folder under the user's home (seed 002: "um
/// diretório é criado dentro do /home do usuário").
pub const DEFAULT_DOWNLOAD_DIR_NAME: &str = "papo-downloads";

/// The default download folder: `$HOME/papo-downloads` (`%USERPROFILE%`
/// on Windows); `./papo-downloads` when the home is unknown.
pub fn default_download_dir() -> PathBuf {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var_os("USERPROFILE").filter(|h| !h.is_empty()));
    match home {
        Some(h) => PathBuf::from(h).join(DEFAULT_DOWNLOAD_DIR_NAME),
        None => PathBuf::from(DEFAULT_DOWNLOAD_DIR_NAME),
    }
}

/// A file being received.
pub(super) struct Receiving {
    pub(super) from: String,
    /// The announced name reduced to a safe base name.
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) done: u64,
    /// Last progress reported, in percent.
    pub(super) reported: u64,
    pub(super) dir: PathBuf,
    /// Deleted when dropped, unless persisted.
    pub(super) file: NamedTempFile,
}

/// A file being sent.
pub(super) struct Sending {
    pub(super) to: Option<String>,
    pub(super) name: String,
    pub(super) size: u64,
    pub(super) reported: u64,
    /// Set when the server stopped the transfer or the connection ended:
    /// the sending thread stops.
    pub(super) stop: Arc<AtomicBool>,
    /// Why the sending thread gave up, if it did (reported instead of the
    /// server's `FILESTOP` text, which only says "cancelled").
    pub(super) local_failure: Arc<Mutex<Option<String>>>,
}

/// A file offer checked and ready to send: the opened file and what its
/// `/file` line announces. Kept by an asynchronous offer's pending request
/// until `FILEOK` starts the streaming.
pub(crate) struct Offer {
    pub(super) file: std::fs::File,
    pub(super) to: Option<String>,
    /// The announced (safe) name.
    pub(super) name: String,
    /// The announced size, in bytes.
    pub(super) size: u64,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) receiving: HashMap<u64, Receiving>,
    pub(super) sending: HashMap<u64, Sending>,
    pub(super) download_dir: Option<PathBuf>,
    /// The sending threads not yet joined (finished ones are pruned at
    /// each new send; `Client::disconnect` joins the rest).
    pub(super) threads: Vec<JoinHandle<()>>,
}

/// The transfer state of one client, shared by the reader thread (which
/// owns the received files) and the callers.
#[derive(Default)]
pub(crate) struct Files {
    pub(super) state: Mutex<State>,
}

impl Files {
    pub(crate) fn download_dir(&self) -> PathBuf {
        self.state
            .lock()
            .download_dir
            .clone()
            .unwrap_or_else(default_download_dir)
    }

    pub(crate) fn set_download_dir(&self, dir: Option<PathBuf>) {
        self.state.lock().download_dir = dir;
    }

    /// Waits for every sending thread to end. Called by
    /// `Client::disconnect` once the socket is shut down, so that a thread
    /// blocked writing a chunk fails at once; no library thread outlives
    /// the handle.
    pub(crate) fn join_senders(&self) {
        let threads = std::mem::take(&mut self.state.lock().threads);
        for t in threads {
            let _ = t.join();
        }
    }
}
