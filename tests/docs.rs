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
        common::skip(
            "ONELOOP_REQUIRE_PYTHON",
            "no python3 (apt-get install python3)",
        );
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

/// The base and the HTTPS overlay merged as kustomize merges them (a
/// strategic merge: lists of containers, ports, mounts and volumes by
/// their keys, `args` replaced whole; a JSON patch, a list of operations,
/// applied as RFC 6902 says), written beside the other files, so the
/// overlay's result is checked against the API's schemas too.
const MERGE: &str = r#"
import sys, yaml
base, out, patches = sys.argv[1], sys.argv[2], sys.argv[3:]
KEYS = {"containers": "name", "volumeMounts": "mountPath", "volumes": "name"}
def merge(a, b, key=None):
    if isinstance(a, dict) and isinstance(b, dict):
        for k, v in b.items():
            a[k] = merge(a[k], v, k) if k in a else v
        return a
    if isinstance(a, list) and isinstance(b, list) and (key in KEYS or key == "ports"):
        # A container's ports merge by containerPort, a Service's by port.
        field = KEYS.get(key) or ("containerPort" if b and "containerPort" in b[0] else "port")
        for item in b:
            same = [x for x in a if x.get(field) == item.get(field)]
            if same:
                merge(same[0], item)
            else:
                a.append(item)
        return a
    return b
def apply(doc, ops):
    for op in ops:
        assert op["op"] == "add" and op["path"].endswith("/-"), op
        node = doc
        for step in op["path"].split("/")[1:-1]:
            node = node[int(step)] if isinstance(node, list) else node[step]
        node.append(op["value"])
    return doc
doc = yaml.safe_load(open(base))
for patch in patches:
    p = yaml.safe_load(open(patch))
    doc = apply(doc, p) if isinstance(p, list) else merge(doc, p)
yaml.safe_dump(doc, open(out, "w"))
"#;

#[test]
fn the_kubernetes_manifests_validate_and_say_what_the_server_needs() {
    let dir = Path::new(ROOT).join("contrib/kubernetes");
    let https = dir.join("https");
    let read = |path: &Path| std::fs::read_to_string(path).unwrap();
    // No manifest carries certificate or key text: a placeholder that
    // cannot load made every pod restart forever. The Secret is made from
    // the user's own files, by the command the README gives.
    for d in [&dir, &https] {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                assert!(!read(&path).contains("-----BEGIN"), "{}", path.display());
            }
        }
    }
    // The base starts with `kubectl apply -k` alone: it needs no Secret.
    let readme = read(&Path::new(ROOT).join("README.md"));
    let base_apply = readme
        .find("kubectl apply -k contrib/kubernetes ")
        .expect("the README applies the base");
    let create = readme
        .find("kubectl create secret tls oneloop-tls --cert=")
        .expect("the README says how to make the Secret");
    let overlay_apply = readme
        .find("kubectl apply -k contrib/kubernetes/https")
        .unwrap();
    assert!(base_apply < create && create < overlay_apply);
    let kustomization = read(&dir.join("kustomization.yaml"));
    assert!(
        kustomization.contains("1.29"),
        "the minimum version is stated"
    );
    assert!(
        kustomization.contains("images:\n  - name: localhost/oneloop\n    newName: "),
        "{kustomization}"
    );
    let files: Vec<_> = ["deployment", "service", "pdb", "hpa", "site"]
        .iter()
        .map(|f| dir.join(format!("{f}.yaml")))
        .collect();
    let deployment = read(&files[0]);
    assert!(
        deployment.contains("image: localhost/oneloop:"),
        "{deployment}"
    );
    assert!(
        !deployment.contains("secretName"),
        "the base needs a Secret"
    );
    let args: Vec<&str> = (deployment.lines())
        .map(str::trim)
        .filter(|l| l.starts_with("- --"))
        .collect();
    for absent in ["--tls-", "--https", "--metrics-path"] {
        assert!(
            !args.iter().any(|a| a.contains(absent)),
            "the base has {absent}"
        );
    }
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
    let number = |text: &str, key: &str| -> u64 {
        let at = text.find(key).unwrap_or_else(|| panic!("{key}")) + key.len();
        let digits: String = text[at..]
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().unwrap()
    };
    let grace = number(&deployment, "terminationGracePeriodSeconds:");
    let drain = number(&deployment, "--shutdown-timeout=");
    let pause = number(&deployment, "seconds:");
    assert!(
        grace > drain + pause,
        "grace {grace} s for a {drain} s drain after {pause} s"
    );
    // One slow answer fails no probe.
    let readiness = &deployment[deployment.find("readinessProbe:").unwrap()..];
    assert!(number(readiness, "timeoutSeconds:") >= 2);
    assert!(number(readiness, "failureThreshold:") >= 2);
    // The autoscaler's threshold is a busy loop's, not an idle one's.
    let hpa = read(&files[3]);
    assert!(!hpa.contains("averageUtilization"), "{hpa}");
    assert!(number(&hpa, "averageValue:") >= 300, "{hpa}");
    // The base Service: HTTP and RFC 868, no HTTPS (the overlay's).
    let service = read(&files[1]);
    assert!(service.contains("protocol: UDP") && service.contains("protocol: TCP"));
    assert!(!service.contains("443"), "{service}");
    // The overlay: the Secret, readable by the pod's uid, and every
    // argument of the base (a patch replaces `args` whole).
    let patch = read(&https.join("deployment.yaml"));
    for needle in [
        "secretName: oneloop-tls",
        "defaultMode: 0440",
        "fsGroup: 65534",
        "--https=0.0.0.0:8443",
        "--public-https-port=443",
    ] {
        assert!(
            patch.contains(needle),
            "https/deployment.yaml lacks {needle}"
        );
    }
    for arg in &args {
        assert!(patch.contains(arg), "the overlay drops {arg}");
    }
    let overlay = read(&https.join("kustomization.yaml"));
    for patch in ["deployment.yaml", "http3-port.yaml", "service.yaml"] {
        assert!(overlay.contains(&format!("- path: {patch}")), "{overlay}");
    }
    // The memory figures in the comments are the README's.
    for (scenario, word) in [
        ("mem10k", "10,000 idle HTTP"),
        ("tls-mem", "5,000 idle HTTPS"),
        ("h2-mem", "5,000 idle HTTP/2"),
    ] {
        let figure = readme_figure(&readme, scenario, "project");
        let said = format!("{word} connections in {figure} KiB");
        let flat = deployment.replace("\n# ", " ");
        assert!(
            flat.contains(&said) || flat.contains(&format!("{word} ones in {figure} KiB")),
            "deployment.yaml does not say {said:?}"
        );
    }

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
    // The overlay's result, merged, validates too.
    let tmp = common::TempDir::new("kube-overlay");
    let merged: Vec<_> = [
        ("deployment", &["deployment", "http3-port"][..]),
        ("service", &["service"][..]),
    ]
    .iter()
    .map(|(name, patches)| {
        let out = tmp.path().join(format!("{name}.yaml"));
        let status = Command::new("python3")
            .args(["-c", MERGE])
            .arg(dir.join(format!("{name}.yaml")))
            .arg(&out)
            .args(patches.iter().map(|p| https.join(format!("{p}.yaml"))))
            .status()
            .unwrap();
        assert!(status.success(), "merging {name}");
        out
    })
    .collect();
    let merged_deployment = read(&merged[0]);
    assert!(merged_deployment.contains("secretName: oneloop-tls"));
    assert!(merged_deployment.contains("containerPort: 8080"));
    assert!(merged_deployment.contains("containerPort: 8443"));
    // HTTPS and HTTP/3 on the same numbers, one over TCP, one over UDP: a
    // strategic merge would have made them one.
    let merged_service = read(&merged[1]);
    for text in [&merged_deployment, &merged_service] {
        let udp = text.matches("protocol: UDP").count();
        assert_eq!(udp, 2, "RFC 868's and HTTP/3's: {text}");
    }
    assert_eq!(
        merged_service.matches("port: 443").count(),
        2,
        "{merged_service}"
    );
    let out = kubernetes_validate(&merged).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The checker can fail: a misspelt field does not pass.
    let bad = tmp.path().join("bad.yaml");
    std::fs::write(
        &bad,
        deployment.replace("readOnlyRootFilesystem", "readOnlyRootFilesytem"),
    )
    .unwrap();
    let out = kubernetes_validate(std::slice::from_ref(&bad)).unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("did not validate"), "{said}");
}

/// The figure in the README's benchmark table for `scenario`'s first row,
/// in `column` (as the table prints it, with its commas).
fn readme_figure(readme: &str, scenario: &str, column: &str) -> String {
    let table = &readme[readme.find("\n## Benchmark").expect("a Benchmark section")..];
    let header = table
        .lines()
        .find(|l| l.starts_with("| scenario |"))
        .expect("a table");
    let at = header
        .split('|')
        .position(|c| c.trim() == column)
        .unwrap_or_else(|| panic!("no {column} column"));
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("| {scenario} |")))
        .unwrap_or_else(|| panic!("no {scenario} row"));
    row.split('|').nth(at).unwrap().trim().to_string()
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
        common::skip(
            "ONELOOP_REQUIRE_PYTHON",
            "no python3 (apt-get install python3)",
        );
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

/// What the README says of the build holds: the default ports, the
/// version in its commands, the lessons and their ports, the image's
/// ports, the Kubernetes version, and a benchmark table that is the
/// named run's, number for number. It names no issue and no internal
/// label for a run.
#[test]
fn the_readme_says_what_the_build_makes() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let first = &readme[..readme.find("\n## ").unwrap()];
    assert!(first.contains(&format!("HTTP on {}", oneloop::config::DEFAULT_HTTP)));
    assert!(first.contains(&format!("RFC 868 on {}", oneloop::config::DEFAULT_TIME)));
    let version = env!("CARGO_PKG_VERSION");
    for (at, _) in readme.match_indices("oneloop_") {
        let named = &readme[at + 8..];
        assert!(
            named.starts_with(version),
            "a package of another version: {}",
            &named[..12]
        );
    }
    for (at, _) in readme.match_indices("oneloop:") {
        let tag = &readme[at + 8..];
        if tag.starts_with(|c: char| c.is_ascii_digit()) {
            assert!(tag.starts_with(version), "an image of another version");
        }
    }
    // Eight lessons, each on the port its file says.
    let lessons: Vec<_> = std::fs::read_dir(Path::new(ROOT).join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("lesson")
        })
        .collect();
    assert!(readme.contains("**Eight lessons**"));
    assert_eq!(lessons.len(), 8);
    for lesson in &lessons {
        let name = lesson.file_stem().unwrap().to_str().unwrap();
        let row = readme
            .lines()
            .find(|l| l.contains(&format!("`cargo run --example {name}`")))
            .unwrap_or_else(|| panic!("no row for {name}"));
        let addr = &row[row.find("(127.0.0.1:").unwrap() + 1..];
        let addr = &addr[..addr.find(')').unwrap()];
        let source = std::fs::read_to_string(lesson).unwrap();
        assert!(source.contains(addr), "{name} does not listen on {addr}");
    }
    // The image's ports.
    let containerfile =
        std::fs::read_to_string(Path::new(ROOT).join("contrib/container/Containerfile")).unwrap();
    assert!(
        readme.contains("on ports 8080, 8443\n  (TCP, and UDP for HTTP/3) and 3737 (TCP and UDP)")
    );
    assert!(containerfile.contains("EXPOSE 8080/tcp 8443/tcp 8443/udp 3737/tcp 3737/udp"));
    // The Kubernetes version.
    let kustomization =
        std::fs::read_to_string(Path::new(ROOT).join("contrib/kubernetes/kustomization.yaml"))
            .unwrap();
    assert!(
        readme.contains("**Kubernetes 1.29 or later**") && kustomization.contains("1.29 or later")
    );
    // The benchmark table is its run's, as the referee prints it.
    let bench = &readme[readme.find("\n## Benchmark").unwrap()..];
    let bench = &bench[..bench[1..].find("\n## ").unwrap()];
    let json = bench
        .split(|c: char| c.is_whitespace() || c == '`' || c == '(' || c == ')')
        .find(|w| w.starts_with("docs/bench/") && w.ends_with(".json"))
        .expect("the Benchmark section names its run's JSON");
    assert!(
        bench.contains("python3 benches/compare/compare.py"),
        "the command that made it"
    );
    let out = Command::new("python3")
        .arg(Path::new(ROOT).join("benches/compare/compare.py"))
        .args(["--table", json])
        .current_dir(ROOT)
        .output();
    let Ok(out) = out else {
        common::skip(
            "ONELOOP_REQUIRE_PYTHON",
            "no python3 (apt-get install python3)",
        );
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    // The first table's rows (the instructions table follows it).
    let rows = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with("| "))
            .take_while(|l| l.starts_with('|'))
            .filter(|l| l.starts_with("| "))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        rows(bench),
        rows(&printed),
        "the README's table is not {json}'s"
    );
    let chart = json.replace(".json", ".svg");
    assert!(
        bench.contains(&format!("({chart})")),
        "the chart of the same run"
    );
    assert!(Path::new(ROOT).join(&chart).exists());
    // Nothing internal.
    let lower = readme.to_lowercase();
    for word in ["issue ", "issues/", "stop2", "stop3"] {
        assert!(!lower.contains(word), "the README says {word:?}");
    }
    let numbered = readme
        .match_indices('#')
        .any(|(at, _)| readme[at + 1..].starts_with(|c: char| c.is_ascii_digit()));
    assert!(!numbered, "the README names a number with #");
}
