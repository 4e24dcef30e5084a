//! `contrib/papo-server.service`: `systemd-analyze verify` accepts it
//! without a single warning (unknown keys, bad values and a missing
//! program are all reported there), with `ExecStart` pointing at the
//! `papo-server` cargo built (verify checks that the program exists); it
//! keeps its sandbox (`systemd-analyze security` rates its exposure low);
//! and its `ExecReload`/`RestartPreventExitStatus` match what the program
//! does (SIGHUP reloads, exit code 2 is a configuration error).
//!
//! systemd-analyze comes with Debian's `systemd` package, which
//! scripts/install-deps.sh installs; this test is skipped only when the
//! command cannot be found at all, and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_papo-server");

fn unit_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/papo-server.service");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The unit in a temporary folder of its own (one per test: the tests of
/// this file run in parallel), with `ExecStart` on the built program.
struct Unit {
    path: PathBuf,
    /// Kept so the folder lives as long as the unit; removed on drop.
    _dir: tempfile::TempDir,
}

impl Unit {
    fn new() -> Unit {
        let text = unit_text();
        assert!(text.contains("ExecStart=/usr/local/bin/papo-server "));
        let text = text.replace("/usr/local/bin/papo-server", BIN);
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("papo-server.service");
        std::fs::write(&path, text).expect("write unit");
        Unit { path, _dir: dir }
    }
}

fn systemd_analyze() -> Option<&'static str> {
    let found = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "SKIPPED: systemd-analyze is not installed (Debian package systemd; \
             scripts/install-deps.sh installs it)"
        );
        return None;
    }
    Some("systemd-analyze")
}

#[test]
fn systemd_analyze_verify_accepts_the_unit_without_a_warning() {
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let unit = Unit::new();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&unit.path)
        .output()
        .expect("run systemd-analyze verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "verify failed:\n{text}");
    assert!(text.trim().is_empty(), "verify warned:\n{text}");
}

#[test]
fn the_unit_keeps_its_sandbox() {
    let text = unit_text();
    for line in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=\n",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "RestartPreventExitStatus=2",
    ] {
        assert!(text.contains(line), "the unit lacks {line:?}");
    }
    let Some(analyze) = systemd_analyze() else {
        return;
    };
    let unit = Unit::new();
    let out = Command::new(analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit.path)
        .output()
        .expect("run systemd-analyze security");
    let report = String::from_utf8_lossy(&out.stdout);
    let level: f64 = report
        .lines()
        .find_map(|l| l.split("exposure level for papo-server.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in:\n{report}{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // systemd's scale: 0 (locked down) to 10 (unprotected); "OK" is < 4.
    assert!(level <= 2.0, "exposure level {level}:\n{report}");
}
