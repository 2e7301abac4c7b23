//! What the README and the lessons tell a user to run is in the repository; charts and manifests say what they should.
//!
//! (The architecture page is held to the code by `tests/architecture.rs`.)

mod common;

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn nothing_a_user_is_told_to_run_lives_outside_the_repository() {
    let mut texts = vec![Path::new(ROOT).join("README.md")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("examples")).unwrap() {
        texts.push(entry.unwrap().path());
    }
    for path in texts {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("../shared"),
            "{} points outside",
            path.display()
        );
        // Every benches/ path mentioned exists.
        for (i, _) in text.match_indices("benches/") {
            let rest = &text[i..];
            let end = rest
                .find(|c: char| c.is_whitespace() || "`'\"),;".contains(c))
                .unwrap_or(rest.len());
            let named = rest[..end].trim_end_matches(['.', ':']);
            assert!(
                Path::new(ROOT).join(named).exists(),
                "{} names {named}, which is not in the repository",
                path.display()
            );
        }
    }
}

#[test]
fn the_memory_chart_draws_bars_proportional_to_rss() {
    let out = std::env::temp_dir().join(format!("oneloop-chart-{}.svg", std::process::id()));
    let status = Command::new("python3")
        .arg(Path::new(ROOT).join("benches/chart.py"))
        .arg(Path::new(ROOT).join("docs/bench/2026-11-26-static.json"))
        .arg(&out)
        .status();
    let Ok(status) = status else {
        eprintln!("skipped: no python3");
        return;
    };
    assert!(status.success());
    let svg = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let memory = &svg[svg.find("RSS (lower is better)").expect("memory panel")..];
    // (width, value) of each bar in the panel, until the next panel.
    let bars: Vec<(f64, f64)> = memory
        .split("<rect ")
        .skip(1)
        .take_while(|r| r.contains("data-value"))
        .map(|r| {
            let attr = |name: &str| -> f64 {
                let start = r.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                r[start..start + r[start..].find('"').unwrap()]
                    .parse()
                    .unwrap()
            };
            (attr("width"), attr("data-value"))
        })
        .collect();
    assert!(bars.len() >= 3, "{bars:?}");
    for pair in bars.windows(2) {
        let ((w1, v1), (w2, v2)) = (pair[0], pair[1]);
        assert_eq!(
            w1 < w2,
            v1 < v2,
            "a larger RSS must draw a longer bar: {bars:?}"
        );
    }
}

/// `kubernetes-validate` (PyPI), when installed: a schema check that needs
/// no cluster.
fn kubernetes_validate(files: &[std::path::PathBuf]) -> Option<std::process::Output> {
    let out = Command::new("kubernetes-validate")
        .args(["--strict", "-k", "1.31.0"])
        .args(files)
        .output();
    match out {
        Ok(out) => Some(out),
        Err(_) => {
            common::skip(
                "ONELOOP_REQUIRE_KUBE_VALIDATE",
                "no kubernetes-validate (pip install kubernetes-validate)",
            );
            None
        }
    }
}

#[test]
fn the_kubernetes_manifests_validate_and_say_what_the_server_needs() {
    let dir = Path::new(ROOT).join("contrib/kubernetes");
    // No manifest carries certificate or key text: a placeholder that
    // cannot load made every pod restart forever. The Secret is made from
    // the user's own files, by the command the README gives, under the
    // name the Deployment mounts.
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("-----BEGIN"),
            "{} holds PEM text",
            path.display()
        );
    }
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let create = readme
        .find("kubectl create secret tls oneloop-tls --cert=")
        .expect("the README says how to make the Secret");
    let apply = readme.find("kubectl apply -k contrib/kubernetes").unwrap();
    assert!(create < apply, "the Secret comes first");
    let kustomization = std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap();
    assert!(
        kustomization.contains("- name: localhost/oneloop"),
        "{kustomization}"
    );
    let files: Vec<_> = ["deployment", "service", "pdb", "hpa", "site"]
        .iter()
        .map(|f| dir.join(format!("{f}.yaml")))
        .collect();
    let deployment = std::fs::read_to_string(&files[0]).unwrap();
    assert!(
        deployment.contains("secretName: oneloop-tls"),
        "{deployment}"
    );
    assert!(
        deployment.contains("image: localhost/oneloop:"),
        "{deployment}"
    );
    // What the manifests promise, read from them.
    for needle in [
        "--health-path=/healthz",
        "path: /healthz",
        "readOnlyRootFilesystem: true",
        "runAsNonRoot: true",
        "drop: [ALL]",
        "preStop:",
    ] {
        assert!(
            deployment.contains(needle),
            "deployment.yaml lacks {needle}"
        );
    }
    let number = |key: &str| -> u64 {
        let at = deployment.find(key).unwrap_or_else(|| panic!("{key}")) + key.len();
        let digits: String = deployment[at..]
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    let grace = number("terminationGracePeriodSeconds:");
    let drain = number("--shutdown-timeout=");
    let pause = number("seconds:");
    assert!(
        grace > drain + pause,
        "grace {grace} s for a {drain} s drain after {pause} s"
    );
    let service = std::fs::read_to_string(&files[1]).unwrap();
    assert!(service.contains("protocol: UDP") && service.contains("protocol: TCP"));
    let Some(out) = kubernetes_validate(&files) else {
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        said.matches(" passed for resource ").count(),
        files.len(),
        "{said}"
    );
    // The checker can fail: a misspelt field does not pass.
    let bad = std::env::temp_dir().join(format!("oneloop-bad-{}.yaml", std::process::id()));
    std::fs::write(
        &bad,
        deployment.replace("readOnlyRootFilesystem", "readOnlyRootFilesytem"),
    )
    .unwrap();
    let out = kubernetes_validate(std::slice::from_ref(&bad)).unwrap();
    let _ = std::fs::remove_file(&bad);
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("did not validate"), "{said}");
}

#[test]
fn the_wrk_start_up_script_applies_wrks_correction() {
    // One connection, a hundred responses a millisecond apart: the first
    // took 10 ms, the rest 1 ms. wrk's interval is the run over the
    // requests per connection, 99,000 / 100 = 990 µs, so the 10 ms sample
    // gains 9,010, 8,020, ..., 1,090: nine more, and p99 of the 109 is
    // the second largest.
    let log = std::env::temp_dir().join(format!("oneloop-wrk-{}.lat", std::process::id()));
    let mut text = String::from("0 10000 5\n");
    for i in 1..100 {
        text.push_str(&format!("{} 1000 5\n", i * 1000));
    }
    std::fs::write(&log, text).unwrap();
    let out = Command::new("python3")
        .arg(Path::new(ROOT).join("benches/wrk/startup.py"))
        .arg(&log)
        .output();
    let _ = std::fs::remove_file(&log);
    let Ok(out) = out else {
        eprintln!("skipped: no python3");
        return;
    };
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("100 responses, 1 connections"), "{said}");
    assert!(said.contains("p99 recorded 10.00 ms"), "{said}");
    assert!(said.contains("as wrk prints it 9.01 ms"), "{said}");
    // The whole log is inside the start the script sets aside.
    assert!(said.contains("after the first 200 ms - ms"), "{said}");
    assert!(
        said.contains("first request of each connection: median 10.0 ms, max 10.0 ms"),
        "{said}"
    );
}

/// Run by `a_skipped_test_is_seen_and_fails_under_ci` alone: a test whose
/// tool is missing.
#[test]
#[ignore = "run by a_skipped_test_is_seen_and_fails_under_ci"]
fn skip_probe() {
    common::skip(
        "ONELOOP_REQUIRE_PROBE",
        "no probe tool (apt-get install probe)",
    );
}

/// A test that cannot run says so where `cargo test`'s reader looks (not
/// in the output libtest hides for a passing test), and fails under CI.
#[test]
fn a_skipped_test_is_seen_and_fails_under_ci() {
    let me = std::env::current_exe().unwrap();
    let probe = |ci: Option<&str>| {
        let mut cmd = Command::new(&me);
        cmd.args(["--ignored", "--exact", "skip_probe", "--test-threads", "1"])
            .env_remove("CI")
            .env_remove("ONELOOP_REQUIRE_PROBE");
        if let Some(ci) = ci {
            cmd.env("CI", ci);
        }
        cmd.output().unwrap()
    };
    let here = probe(None);
    assert!(here.status.success());
    let err = String::from_utf8_lossy(&here.stderr);
    assert!(
        err.contains("SKIPPED skip_probe: no probe tool (apt-get install probe)"),
        "{err}"
    );
    let ci = probe(Some("true"));
    assert!(!ci.status.success(), "a missing tool under CI must fail");
    assert!(String::from_utf8_lossy(&ci.stdout).contains("required here"));
    // CI=false is not CI.
    assert!(probe(Some("false")).status.success());
}
