//! What the README and the lessons tell a user to run is in the
//! repository, and the benchmark chart reads the right way round.

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
        .arg(Path::new(ROOT).join("docs/bench/2026-11-25-static.json"))
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
