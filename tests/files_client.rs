//! File transfer and binary messages through `papo::Client`, against a real
//! `papo::Server` on loopback: every byte value, saving safely, failures,
//! chat during a transfer, and a 200 MiB file to three receivers with its
//! memory measured.

mod common_files;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common_files::{Wire, WAIT};
use papo::{Client, ErrorCode, Event, Server, ServerConfig};
use sha2::{Digest, Sha256};

/// The tests that move hundreds of MiB run one at a time: the memory
/// measurement reads the whole process, and the box has two cores.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

fn start(cfg: ServerConfig) -> Server {
    Server::start("127.0.0.1", 0, cfg).expect("server starts")
}

fn connect(server: &Server, nick: &str) -> Client {
    Client::connect("127.0.0.1", server.port(), nick).expect("client connects")
}

/// A fresh, empty folder under the system's temporary folder.
/// This process's umask, from /proc (reading it with umask(2) would
/// change it for the other tests' threads for a moment).
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .expect("Umask: line (Linux 4.7 and later)");
    u32::from_str_radix(field.trim(), 8).expect("octal umask")
}

fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("papo-{label}-"))
        .tempdir()
        .expect("temporary folder")
}

/// The next event matching `pred`; events that do not match are handed to
/// `skipped`. Panics after [`WAIT`].
fn wait_for(
    c: &Client,
    what: &str,
    mut skipped: impl FnMut(&Event),
    pred: impl Fn(&Event) -> bool,
) -> Event {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "{}: no event: {what}", c.nick());
        match c.next_event(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(ev) => skipped(&ev),
            Err(e) if e.code() == ErrorCode::Timeout => {}
            Err(e) => panic!("{}: waiting for {what}: {e}", c.nick()),
        }
    }
}

fn wait(c: &Client, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    wait_for(c, what, |_| {}, pred)
}

/// The event without its message id and server time, which the tests of
/// this file do not check (tests/server_rooms.rs and client_rooms.rs do).
fn untagged(e: Event) -> Event {
    match e {
        Event::Public { from, text, .. } => Event::Public {
            from,
            text,
            id: 0,
            time: 0,
        },
        Event::Private { from, text, .. } => Event::Private {
            from,
            text,
            id: 0,
            time: 0,
        },
        other => other,
    }
}

/// The names of the entries of `dir`.
fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

fn sha256_file(path: &Path) -> Vec<u8> {
    let mut f = std::fs::File::open(path).expect("open");
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).expect("read");
        if n == 0 {
            return h.finalize().to_vec();
        }
        h.update(&buf[..n]);
    }
}

/// Writes `size` pseudo-random bytes (xorshift) to `path`, 1 MiB at a time;
/// returns their SHA-256.
fn write_random_file(path: &Path, size: u64, seed: u64) -> Vec<u8> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut h = Sha256::new();
    let mut x = seed | 1;
    let mut left = size;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for b in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bytes = x.to_le_bytes();
            b.copy_from_slice(&bytes[..b.len()]);
        }
        f.write_all(&buf[..n]).expect("write");
        h.update(&buf[..n]);
        left -= n as u64;
    }
    f.flush().expect("flush");
    h.finalize().to_vec()
}

#[test]
fn binary_messages_with_every_byte_value() {
    let server = start(ServerConfig {
        max_payload_bytes: 4096,
        ..ServerConfig::default()
    });
    let ana = connect(&server, "ana");
    let bob = connect(&server, "bob");
    let carla = connect(&server, "carla");
    let all: Vec<u8> = (0..=255u8).collect();
    // Every byte value, several times, LF and NUL included.
    let data: Vec<u8> = all.iter().chain(all.iter().rev()).copied().collect();
    ana.send_bytes(None, &data).expect("public bytes");
    ana.send_bytes(Some("bob"), &all).expect("private bytes");
    ana.send_bytes(Some("bob"), &[]).expect("empty bytes");
    for c in [&bob, &carla] {
        let ev = wait(c, "public bytes", |e| matches!(e, Event::Bytes { .. }));
        assert_eq!(
            ev,
            Event::Bytes {
                from: "ana".into(),
                data: data.clone(),
                private: false
            }
        );
    }
    assert_eq!(
        wait(&bob, "private bytes", |e| matches!(e, Event::Bytes { .. })),
        Event::Bytes {
            from: "ana".into(),
            data: all.clone(),
            private: true
        }
    );
    assert_eq!(
        wait(&bob, "empty bytes", |e| matches!(e, Event::Bytes { .. })),
        Event::Bytes {
            from: "ana".into(),
            data: vec![],
            private: true
        }
    );
    // Refusals.
    let e = ana.send_bytes(None, &vec![0u8; 4097]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::TooLong, "{e}");
    let e = ana.send_bytes(Some("zé"), b"x").unwrap_err();
    assert_eq!(e.code(), ErrorCode::NoSuchUser, "{e}");
    let e = ana.send_bytes(Some("a b"), b"x").unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidNick, "{e}");
    // The connection is fine afterwards, and nothing else arrived.
    ana.send(None, "ainda aqui").expect("public");
    let ev = untagged(wait(&carla, "public", |e| {
        !matches!(e, Event::Joined { .. })
    }));
    assert_eq!(
        ev,
        Event::Public {
            from: "ana".into(),
            text: "ainda aqui".into(),
            id: 0,
            time: 0,
        }
    );
}

#[test]
fn a_file_reaches_everyone_and_each_saves_its_own_copy() {
    let server = start(ServerConfig {
        io_threads: 2,
        ..ServerConfig::default()
    });
    let src = temp_dir("src");
    let path = src.path().join("relatório final.pdf");
    let digest = write_random_file(&path, 3 * 1024 * 1024 + 17, 7);

    let ana = connect(&server, "ana");
    let bob = connect(&server, "bob");
    let carla = connect(&server, "carla");
    let (bob_dir, carla_dir) = (temp_dir("bob"), temp_dir("carla"));
    bob.set_download_dir(Some(bob_dir.path().to_path_buf()));
    carla.set_download_dir(Some(carla_dir.path().to_path_buf()));
    assert_eq!(bob.download_dir(), bob_dir.path());

    let id = ana.send_file(None, &path).expect("send_file");
    for (c, dir) in [(&bob, bob_dir.path()), (&carla, carla_dir.path())] {
        let offered = wait(c, "FileOffered", |e| matches!(e, Event::FileOffered { .. }));
        assert_eq!(
            offered,
            Event::FileOffered {
                id,
                from: "ana".into(),
                name: "relatório final.pdf".into(),
                size: 3 * 1024 * 1024 + 17,
                private: false
            }
        );
        let mut progress = Vec::new();
        let got = wait_for(
            c,
            "FileReceived",
            |e| {
                if let Event::FileProgress { bytes_done, .. } = e {
                    progress.push(*bytes_done)
                }
            },
            |e| matches!(e, Event::FileReceived { .. }),
        );
        let Event::FileReceived {
            id: got_id,
            path: saved,
            size,
            ..
        } = got
        else {
            unreachable!()
        };
        assert_eq!(got_id, id);
        assert_eq!(size, 3 * 1024 * 1024 + 17);
        assert_eq!(saved, dir.join("relatório final.pdf"));
        assert_eq!(sha256_file(&saved), digest);
        assert!(!progress.is_empty() && progress.windows(2).all(|w| w[0] < w[1]));
        assert!(progress.len() <= 100);
        // Only the file: no temporary part left.
        assert_eq!(entries(dir), ["relatório final.pdf".to_string()].into());
        // Saved like any download: 0666 less the umask (issue 14).
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&saved).expect("stat").permissions(),
        );
        assert_eq!(mode & 0o777, 0o666 & !umask(), "mode {mode:o}");
    }
    // The sender's own events: progress, then FileSent.
    let mut sent_progress = Vec::new();
    let sent = wait_for(
        &ana,
        "FileSent",
        |e| {
            if let Event::FileSendProgress { bytes_done, .. } = e {
                sent_progress.push(*bytes_done)
            }
        },
        |e| matches!(e, Event::FileSent { .. }),
    );
    assert_eq!(
        sent,
        Event::FileSent {
            id,
            to: None,
            name: "relatório final.pdf".into(),
            size: 3 * 1024 * 1024 + 17
        }
    );
    assert_eq!(sent_progress.last(), Some(&(3 * 1024 * 1024 + 17)));

    // Sent again: the first copy is kept and the second gets " (1)". A
    // private file goes to bob alone.
    let id2 = ana.send_file(Some("bob"), &path).expect("send_file again");
    let got = wait(&bob, "second copy", |e| {
        matches!(e, Event::FileReceived { .. })
    });
    let Event::FileReceived {
        id: got_id,
        path: saved,
        ..
    } = got
    else {
        unreachable!()
    };
    assert_eq!(got_id, id2);
    assert_eq!(saved, bob_dir.path().join("relatório final (1).pdf"));
    assert_eq!(sha256_file(&saved), digest);
    carla.ping().expect("ping");
    ana.ping().expect("ping");
    carla.ping().expect("ping");
    assert!(
        matches!(carla.next_event(Duration::ZERO), Err(e) if e.code() == ErrorCode::Timeout),
        "carla got something of a private file"
    );
}

#[test]
fn refused_files() {
    let server = start(ServerConfig {
        max_file_bytes: 1000,
        ..ServerConfig::default()
    });
    let ana = connect(&server, "ana");
    let _bob = connect(&server, "bob");
    let src = temp_dir("refused");
    let big = src.path().join("big.bin");
    std::fs::write(&big, vec![1u8; 1001]).unwrap();
    let e = ana.send_file(None, &big).unwrap_err();
    assert_eq!(e.code(), ErrorCode::TooLong, "{e}");
    let small = src.path().join("small.bin");
    std::fs::write(&small, b"ok").unwrap();
    let e = ana.send_file(Some("zé"), &small).unwrap_err();
    assert_eq!(e.code(), ErrorCode::NoSuchUser, "{e}");
    let e = ana.send_file(None, src.path().join("missing")).unwrap_err();
    assert_eq!(e.code(), ErrorCode::Io, "{e}");
    let e = ana.send_file(None, src.path()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidArgument, "{e}");
    ana.ping().expect("still connected");
}

/// A hand-written sender announces hostile names; the receiver saves each
/// inside its download folder (or the server refuses it), never replacing
/// a file and never following a symlink.
#[test]
fn hostile_names_end_inside_the_download_folder() {
    let server = start(ServerConfig::default());
    let bob = connect(&server, "bob");
    let dl = temp_dir("hostile");
    let outside = temp_dir("outside");
    bob.set_download_dir(Some(dl.path().to_path_buf()));
    // What is there before: files with names the hostile ones reduce to,
    // and a symlink pointing outside.
    std::fs::write(dl.path().join("passwd"), b"old passwd").unwrap();
    std::fs::write(dl.path().join("foto.png"), b"old foto").unwrap();
    let target = outside.path().join("target.txt");
    std::fs::write(&target, b"outside, untouched").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&target, dl.path().join("evil.txt")).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path(), dl.path().join("linkdir")).unwrap();
    let before = entries(dl.path());

    let mut ana = Wire::join(server.local_addr(), "ana");
    ana.sync("s");
    let hostile = [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\Windows\\win.ini",
        "C:\\evil.dll",
        "C:evil2.dll",
        "..",
        ".",
        "...",
        "foto.png",
        "evil.txt",
        "linkdir/escape.txt",
        "CON",
        "nul.txt",
        "COM1",
        "   ",
        ".hidden",
        &format!("{}.txt", "x".repeat(3000)),
        "a\u{202e}gnp.exe",
    ];
    let mut expect_saved = 0;
    for (k, name) in hostile.iter().enumerate() {
        let content = format!("content {k}");
        ana.send(&format!("/file bob {} :{name}", content.len()));
        let l = ana.line();
        if l.starts_with("ERROR ") {
            // Refused (only an empty-looking name may be).
            assert!(l.starts_with("ERROR 09 "), "{name:?}: {l}");
            continue;
        }
        let id: u64 = l.split(' ').nth(1).unwrap().parse().unwrap();
        ana.send(&format!("/chunk {id} {}", content.len()));
        ana.send_raw(content.as_bytes());
        ana.send(&format!("/fileend {id}"));
        assert_eq!(ana.line(), format!("FILEACK {id} {}", content.len()));
        assert!(ana.line().starts_with(&format!("FILEDONE {id} ")));
        expect_saved += 1;
    }
    // Control characters and NUL are refused by the server (ERROR 08).
    for name in ["a\u{1b}[2Jb", "tab\u{7}bell", "nl\u{85}x"] {
        ana.send(&format!("/file bob 1 :{name}"));
        let l = ana.line();
        assert!(l.starts_with("ERROR 08 "), "{name:?}: {l}");
    }
    ana.send_raw(b"/file bob 1 :nul\0byte\n");
    assert!(ana.line().starts_with("ERROR 08 "));

    let mut saved: Vec<PathBuf> = Vec::new();
    while saved.len() < expect_saved {
        match wait(&bob, "FileReceived", |e| {
            matches!(e, Event::FileReceived { .. } | Event::FileFailed { .. })
        }) {
            Event::FileReceived { path, .. } => saved.push(path),
            other => panic!("{other:?}"),
        }
    }
    let canon_dl = dl.path().canonicalize().unwrap();
    for p in &saved {
        assert_eq!(p.parent().unwrap(), dl.path(), "{p:?}");
        let meta = std::fs::symlink_metadata(p).unwrap();
        assert!(meta.file_type().is_file(), "{p:?} is not a plain file");
        assert_eq!(p.canonicalize().unwrap().parent().unwrap(), canon_dl);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.len() <= 255);
        assert!(!name.starts_with('.'), "{name}");
    }
    // Nothing was replaced or followed.
    assert_eq!(
        std::fs::read(dl.path().join("passwd")).unwrap(),
        b"old passwd"
    );
    assert_eq!(
        std::fs::read(dl.path().join("foto.png")).unwrap(),
        b"old foto"
    );
    assert_eq!(std::fs::read(&target).unwrap(), b"outside, untouched");
    assert_eq!(entries(outside.path()), ["target.txt".to_string()].into());
    let after = entries(dl.path());
    assert!(before.is_subset(&after));
    assert_eq!(after.len(), before.len() + expect_saved);
    for name in [
        "passwd (1)",
        "foto (1).png",
        "evil (1).txt",
        "escape.txt",
        "_CON",
        "_nul.txt",
    ] {
        assert!(after.contains(name), "{name} missing from {after:?}");
    }
    assert!(after.iter().all(|n| !n.ends_with(".part")));
}

/// The sender's socket dies mid-file: each receiver gets `FileFailed` and
/// nothing of the file stays in its folder.
#[test]
fn a_sender_killed_mid_transfer_leaves_no_partial_file() {
    let server = start(ServerConfig::default());
    let bob = connect(&server, "bob");
    let carla = connect(&server, "carla");
    let (bob_dir, carla_dir) = (temp_dir("kbob"), temp_dir("kcarla"));
    bob.set_download_dir(Some(bob_dir.path().to_path_buf()));
    carla.set_download_dir(Some(carla_dir.path().to_path_buf()));
    let mut ana = Wire::join(server.local_addr(), "ana");
    ana.send("/file * 10000000 :partial.bin");
    let id: u64 = ana.line().split(' ').nth(1).unwrap().parse().unwrap();
    // Two whole chunks and part of a third.
    for _ in 0..2 {
        ana.send(&format!("/chunk {id} 65536"));
        ana.send_raw(&[0x55; 65536]);
    }
    ana.send(&format!("/chunk {id} 65536"));
    ana.send_raw(&[0x55; 1000]);
    for c in [&bob, &carla] {
        // The file is being written when the sender dies.
        wait(c, "progress", |e| matches!(e, Event::FileProgress { .. }));
    }
    ana.kill();
    for (c, dir) in [(&bob, bob_dir.path()), (&carla, carla_dir.path())] {
        let ev = wait(c, "FileFailed", |e| matches!(e, Event::FileFailed { .. }));
        let Event::FileFailed {
            id: got,
            from,
            name,
            ..
        } = ev
        else {
            unreachable!()
        };
        assert_eq!(
            (got, from.as_str(), name.as_str()),
            (id, "ana", "partial.bin")
        );
        wait(
            c,
            "LEFT ana",
            |e| matches!(e, Event::Left { nick } if nick == "ana"),
        );
        assert!(entries(dir).is_empty(), "left behind: {:?}", entries(dir));
    }
}

/// A receiver's connection ends mid-file (it disconnects): its part is
/// deleted too; the sender is told its (private) file failed.
#[test]
fn a_receiver_leaving_mid_transfer_leaves_no_partial_file() {
    let _heavy = heavy();
    let server = start(ServerConfig::default());
    let ana = connect(&server, "ana");
    let bob = connect(&server, "bob");
    let dir = temp_dir("leave");
    bob.set_download_dir(Some(dir.path().to_path_buf()));
    let src = temp_dir("leave-src");
    let path = src.path().join("big.bin");
    write_random_file(&path, 64 * 1024 * 1024, 3);
    let id = ana.send_file(Some("bob"), &path).expect("send_file");
    wait(&bob, "progress", |e| {
        matches!(e, Event::FileProgress { .. })
    });
    bob.disconnect().unwrap();
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    let ev = wait(&ana, "FileSendFailed", |e| {
        matches!(e, Event::FileSendFailed { .. } | Event::FileSent { .. })
    });
    assert!(
        matches!(&ev, Event::FileSendFailed { id: got, to: Some(to), .. } if *got == id && to == "bob"),
        "{ev:?}"
    );
}

/// Chat keeps flowing during a transfer, for the receivers and from the
/// sender itself: lines sent while the file is on its way (the receivers
/// have seen part of it) arrive before the file is complete.
#[test]
fn chat_flows_during_a_large_transfer() {
    let _heavy = heavy();
    let server = start(ServerConfig::default());
    let src = temp_dir("chat-src");
    // Before the clients, so that it is deleted after them: dani may still
    // be receiving when the test ends (its part file goes when it
    // disconnects).
    let dani_dir = temp_dir("cdani");
    let path = src.path().join("video.bin");
    let size = 128 * 1024 * 1024;
    write_random_file(&path, size, 11);
    let ana = connect(&server, "ana");
    let bob = connect(&server, "bob");
    let carla = connect(&server, "carla");
    let dani = connect(&server, "dani");
    let dirs = [temp_dir("cbob"), temp_dir("ccarla")];
    bob.set_download_dir(Some(dirs[0].path().to_path_buf()));
    carla.set_download_dir(Some(dirs[1].path().to_path_buf()));
    dani.set_download_dir(Some(dani_dir.path().to_path_buf()));

    let id = ana.send_file(None, &path).expect("send_file");
    // Bob has received part of it (and not all of it) before anyone chats.
    let ev = wait(&bob, "early progress", |e| {
        matches!(e, Event::FileProgress { .. })
    });
    let Event::FileProgress { bytes_done, .. } = ev else {
        unreachable!()
    };
    assert!(bytes_done < size);
    dani.send(None, "oi de dani durante o arquivo")
        .expect("dani chats");
    ana.send(None, "oi de ana durante o arquivo")
        .expect("ana chats");
    ana.send(Some("carla"), "privado durante o arquivo")
        .expect("private");
    for c in [&bob, &carla] {
        let mut seen = Vec::new();
        let mut done_at_chat = Vec::new();
        let mut last_done = 0;
        loop {
            let ev = wait(c, "events", |_| true);
            match ev {
                Event::FileProgress { bytes_done, .. } => last_done = bytes_done,
                Event::Public { from, .. } | Event::Private { from, .. } => {
                    seen.push(from);
                    done_at_chat.push(last_done);
                }
                Event::FileReceived { id: got, .. } => {
                    assert_eq!(got, id);
                    break;
                }
                Event::FileFailed { reason, .. } => panic!("{reason}"),
                _ => {}
            }
        }
        let want = if c.nick() == "carla" { 3 } else { 2 };
        assert_eq!(
            seen.len(),
            want,
            "{}: chat seen before the file ended: {seen:?}",
            c.nick()
        );
        assert!(seen.contains(&"dani".to_string()) && seen.contains(&"ana".to_string()));
        // They came while the file was still arriving.
        assert!(done_at_chat.iter().all(|d| *d < size), "{done_at_chat:?}");
    }
}

/// A 200 MiB file to three receivers: every copy is identical (SHA-256) and
/// the memory of the process, which holds the server, the sender and the
/// three receivers, grows by less than 64 MiB.
#[test]
fn a_200_mib_file_to_three_receivers_with_flat_memory() {
    let _heavy = heavy();
    const SIZE: u64 = 200 * 1024 * 1024;
    let src = temp_dir("big-src");
    let path = src.path().join("grande.bin");
    let digest = write_random_file(&path, SIZE, 42);

    let server = start(ServerConfig::default());
    let ana = connect(&server, "ana");
    let receivers: Vec<Arc<Client>> = ["bob", "carla", "dani"]
        .iter()
        .map(|n| Arc::new(connect(&server, n)))
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|k| temp_dir(&format!("big{k}"))).collect();
    for (c, d) in receivers.iter().zip(&dirs) {
        c.set_download_dir(Some(d.path().to_path_buf()));
    }
    ana.ping().unwrap();

    // Memory from here on: VmRSS now; the peak (VmHWM) after a reset, and,
    // in case the kernel cannot reset it, VmRSS sampled every 10 ms.
    let hwm_reset = common_files::reset_peak_rss();
    let (rss_before, _) = common_files::rss().expect("/proc/self/status (Linux) is needed");
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let sampling = Arc::clone(&sampling);
        std::thread::spawn(move || {
            let mut max = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                max = max.max(common_files::rss().map_or(0, |(rss, _)| rss));
                std::thread::sleep(Duration::from_millis(10));
            }
            max
        })
    };

    let id = ana.send_file(None, &path).expect("send_file");
    let threads: Vec<_> = receivers
        .iter()
        .map(|c| {
            let c = Arc::clone(c);
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(600);
                loop {
                    assert!(Instant::now() < deadline, "{}: too slow", c.nick());
                    match c.next_event(Duration::from_secs(60)) {
                        Ok(Event::FileReceived {
                            id: got,
                            path,
                            size,
                            ..
                        }) => {
                            assert_eq!((got, size), (id, SIZE));
                            return path;
                        }
                        Ok(Event::FileFailed { reason, .. }) => panic!("{}: {reason}", c.nick()),
                        Ok(_) => {}
                        Err(e) => panic!("{}: {e}", c.nick()),
                    }
                }
            })
        })
        .collect();
    let saved: Vec<PathBuf> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    wait(&ana, "FileSent", |e| matches!(e, Event::FileSent { .. }));
    let (rss_after, hwm) = common_files::rss().unwrap_or((0, 0));
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let sampled = sampler.join().unwrap();
    // What is measured: the resident memory of this whole process, which
    // holds the server, the sender and the three receivers.
    let peak = if hwm_reset { hwm.max(sampled) } else { sampled };
    let growth = peak.saturating_sub(rss_before);
    eprintln!(
        "memory: VmRSS before {} MiB, after {} MiB, peak during {} MiB ({}), growth {} MiB",
        rss_before >> 20,
        rss_after >> 20,
        peak >> 20,
        if hwm_reset {
            "VmHWM after a reset, and samples"
        } else {
            "VmRSS samples every 10 ms"
        },
        growth >> 20
    );
    assert!(
        growth < 64 * 1024 * 1024,
        "resident memory grew by {} MiB during the transfer",
        growth >> 20
    );
    for p in &saved {
        assert_eq!(sha256_file(p), digest, "{p:?}");
    }
}

/// The body of the process that `a_sender_process_killed_mid_transfer`
/// starts and kills: it joins as "ana", offers a 10 MB file and sends part
/// of it, then waits to be killed. Does nothing when run on its own.
#[test]
#[ignore = "helper process of a_sender_process_killed_mid_transfer"]
fn killed_sender_process() {
    let Some(addr) = std::env::var("PAPO_KILLED_SENDER_ADDR")
        .ok()
        .and_then(|a| a.parse().ok())
    else {
        return;
    };
    let mut ana = Wire::join(addr, "ana");
    ana.send("/file * 10000000 :killed.bin");
    let id: u64 = ana.line().split(' ').nth(1).unwrap().parse().unwrap();
    for _ in 0..3 {
        ana.send(&format!("/chunk {id} 65536"));
        ana.send_raw(&[0xaa; 65536]);
    }
    ana.send(&format!("/chunk {id} 65536"));
    ana.send_raw(&[0xaa; 5000]);
    println!("READY");
    std::thread::sleep(Duration::from_secs(120));
}

/// A real sender process is killed (SIGKILL) in the middle of a file, in the
/// middle of a chunk: the receivers get `FileFailed` and nothing of the file
/// stays in their folders.
#[test]
fn a_sender_process_killed_mid_transfer() {
    use std::io::BufRead;
    let server = start(ServerConfig::default());
    let bob = connect(&server, "bob");
    let carla = connect(&server, "carla");
    let (bob_dir, carla_dir) = (temp_dir("pbob"), temp_dir("pcarla"));
    bob.set_download_dir(Some(bob_dir.path().to_path_buf()));
    carla.set_download_dir(Some(carla_dir.path().to_path_buf()));
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "killed_sender_process",
            "--nocapture",
        ])
        .env("PAPO_KILLED_SENDER_ADDR", server.local_addr().to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the sender process");
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("READY") {
        line.clear();
        let n = out.read_line(&mut line).expect("sender output");
        assert!(n > 0, "the sender process ended early");
    }
    for c in [&bob, &carla] {
        wait(c, "progress", |e| matches!(e, Event::FileProgress { .. }));
    }
    child.kill().expect("kill the sender");
    child.wait().unwrap();
    for (c, dir) in [(&bob, bob_dir.path()), (&carla, carla_dir.path())] {
        let ev = wait(c, "FileFailed", |e| matches!(e, Event::FileFailed { .. }));
        assert!(
            matches!(&ev, Event::FileFailed { from, name, .. } if from == "ana" && name == "killed.bin"),
            "{ev:?}"
        );
        wait(
            c,
            "LEFT ana",
            |e| matches!(e, Event::Left { nick } if nick == "ana"),
        );
        assert!(entries(dir).is_empty(), "left behind: {:?}", entries(dir));
    }
}
