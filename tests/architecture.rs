//! The map matches the territory: docs/ARCHITECTURE.md's file map and layers, checked against the code.
//!
//! Four checks, each of which fails on the drift it names:
//!
//! - the file map names every source file once, and no file that is gone;
//! - each Rust file's line in the map is its module's first doc line, so
//!   the map and the module docs say the same thing about what it holds;
//! - the layer table puts every source file in one layer, and every
//!   `crate::` path in a file's code (tests aside) goes to its own layer or
//!   one the table says it may import; no two files import each other,
//!   however indirectly;
//! - every type, function and file the page names in backticks exists.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Files under `dir` (relative to the root), recursively, as relative paths.
fn walk(dir: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(Path::new(ROOT).join(dir)) else {
        return;
    };
    for entry in entries {
        let path: PathBuf = entry.unwrap().path();
        let rel = path
            .strip_prefix(ROOT)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if path.is_dir() {
            walk(&rel, out);
        } else {
            out.push(rel);
        }
    }
}

/// The source files the map must name: the crate, the build script, the
/// lessons, the tests and the benches (Rust and Python).
fn source_files() -> BTreeSet<String> {
    let mut all = Vec::new();
    for dir in ["src", "examples", "tests", "benches"] {
        walk(dir, &mut all);
    }
    all.push("build.rs".into());
    all.into_iter()
        .filter(|f| {
            f.starts_with("src/site/")
                || f.ends_with(".rs")
                || (f.ends_with(".py") && !f.contains("__pycache__"))
        })
        .collect()
}

/// The fenced block after the heading `heading`.
fn block_after<'a>(page: &'a str, heading: &str) -> &'a str {
    let at = page
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &page[at..];
    let start = rest.find("```\n").expect("a block") + 4;
    let end = rest[start..].find("```").expect("its end");
    &rest[start..start + end]
}

/// The map: path -> its line.
fn file_map(page: &str) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for line in block_after(page, "## Files").lines() {
        let line = line.trim_end();
        if line.is_empty() || line.trim_start().starts_with("--") {
            continue;
        }
        assert!(
            !line.starts_with(' '),
            "one line per file in the map (a continuation line: {line:?})"
        );
        let (path, text) = line.split_once(' ').unwrap_or((line, ""));
        let previous = map.insert(path.to_string(), text.trim().to_string());
        assert!(previous.is_none(), "{path} is in the map twice");
    }
    map
}

/// A Rust file's first `//!` line.
fn first_doc_line(path: &str) -> String {
    let text = read(path);
    let first = text.lines().next().unwrap_or("");
    first
        .strip_prefix("//!")
        .unwrap_or_else(|| panic!("{path} does not open with a module doc"))
        .trim()
        .to_string()
}

#[test]
fn the_file_map_names_every_source_file_once_with_its_module_doc() {
    let page = read("docs/ARCHITECTURE.md");
    let map = file_map(&page);
    let files = source_files();
    let named: BTreeSet<String> = map.keys().cloned().collect();
    let missing: Vec<_> = files.difference(&named).collect();
    let gone: Vec<_> = named.difference(&files).collect();
    assert!(
        missing.is_empty(),
        "files the map does not name: {missing:?}"
    );
    assert!(
        gone.is_empty(),
        "the map names files that do not exist: {gone:?}"
    );
    let mut differ = Vec::new();
    for (path, line) in &map {
        if path.ends_with(".rs") {
            let doc = first_doc_line(path);
            if &doc != line {
                differ.push(format!("{path}\n    map: {line}\n    doc: {doc}"));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "the map and the module docs disagree:\n{}",
        differ.join("\n")
    );
}

/// The layer table: layer -> (its files and folders, the layers it may
/// import besides itself).
fn layers(page: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let at = page
        .find("| layer | files | may import |")
        .expect("the layer table");
    page[at..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            let ticked = |cell: &str| -> Vec<String> {
                cell.split('`')
                    .skip(1)
                    .step_by(2)
                    .map(str::to_string)
                    .collect()
            };
            let may = if cells[2] == "anything" {
                vec!["*".to_string()]
            } else {
                cells[2]
                    .split(',')
                    .map(|s| s.trim().trim_matches('*').to_string())
                    .filter(|s| !s.is_empty() && s != "nothing")
                    .collect()
            };
            (
                cells[0].trim_matches('*').to_string(),
                ticked(cells[1]),
                may,
            )
        })
        .collect()
}

/// The code of a Rust file without its comments and test modules.
fn code(path: &str) -> String {
    let text = read(path);
    let mut out = String::new();
    for line in text.lines() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let line = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The source file a `crate::a::b` path lands in.
fn resolve(segments: &[&str]) -> Option<String> {
    let root = Path::new(ROOT);
    let mut best = None;
    for n in 1..=segments.len().min(3) {
        let stem = format!("src/{}", segments[..n].join("/"));
        for candidate in [format!("{stem}.rs"), format!("{stem}/mod.rs")] {
            if root.join(&candidate).exists() {
                best = Some(candidate);
            }
        }
    }
    best
}

/// Every file a Rust file's code imports (by `crate::` paths).
fn imports(path: &str) -> BTreeSet<String> {
    let code = code(path);
    let mut found = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let segments: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
        if let Some(file) = resolve(&segments)
            && file != path
        {
            found.insert(file);
        }
    }
    // `use crate::a::{b, c}` and `use crate::a::{self, ..}`: the braces.
    for (i, _) in code.match_indices("use crate::") {
        let rest = &code[i + 11..];
        let stmt = &rest[..rest.find(';').unwrap_or(rest.len())];
        if let Some(open) = stmt.find('{') {
            let prefix: Vec<&str> = stmt[..open].split("::").filter(|s| !s.is_empty()).collect();
            for item in stmt[open + 1..].trim_end_matches('}').split(',') {
                let item = item.trim().split("::").next().unwrap_or("");
                let mut segs = prefix.clone();
                if item != "self" && !item.is_empty() {
                    segs.push(item);
                }
                if let Some(file) = resolve(&segs)
                    && file != path
                {
                    found.insert(file);
                }
            }
        }
    }
    found
}

/// Which layer a source file is in.
fn layer_of(file: &str, table: &[(String, Vec<String>, Vec<String>)]) -> Option<String> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    table
        .iter()
        .find(|(_, files, _)| {
            files
                .iter()
                .any(|f| f == rel || (f.ends_with('/') && rel.starts_with(f.as_str())))
        })
        .map(|(name, _, _)| name.clone())
}

/// Whether a file is compiled for tests only: its `mod` line follows a
/// `#[cfg(test)]`.
fn test_only(file: &str) -> bool {
    let path = Path::new(file);
    let name = path.file_stem().unwrap().to_string_lossy();
    let dir = path.parent().unwrap();
    let parents = [
        dir.with_extension("rs"),
        dir.join("mod.rs"),
        dir.join("lib.rs"),
    ];
    for parent in parents {
        let Ok(text) = std::fs::read_to_string(Path::new(ROOT).join(&parent)) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.trim() == format!("mod {name};") || line.trim() == format!("pub mod {name};") {
                // Behind `#[cfg(test)]`, or declared in a file that is.
                let parent = parent.to_string_lossy();
                return (i > 0 && lines[i - 1].contains("cfg(test)")) || test_only(&parent);
            }
        }
    }
    false
}

/// The crate's own files, test-only files aside.
fn crate_files() -> Vec<String> {
    source_files()
        .into_iter()
        .filter(|f| f.starts_with("src/") && f.ends_with(".rs"))
        .filter(|f| !test_only(f))
        .collect()
}

#[test]
fn every_import_keeps_the_layer_rules_and_none_goes_round_in_a_circle() {
    let page = read("docs/ARCHITECTURE.md");
    let table = layers(&page);
    assert!(table.len() >= 8, "{table:?}");
    let mut broken = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in crate_files() {
        let Some(layer) = layer_of(&file, &table) else {
            broken.push(format!("{file} is in no layer"));
            continue;
        };
        let may = &table.iter().find(|(n, _, _)| *n == layer).unwrap().2;
        let deps = imports(&file);
        for dep in &deps {
            let Some(to) = layer_of(dep, &table) else {
                continue;
            };
            if to != layer && !may.iter().any(|m| m == "*" || *m == to) {
                broken.push(format!("{file} ({layer}) imports {dep} ({to})"));
            }
        }
        graph.insert(file, deps);
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // No file reaches itself through its imports (a module's own
    // submodules and its `mod.rs` aside: a folder's mod.rs declares them).
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = graph[start]
            .iter()
            .map(|d| (d.clone(), vec![start.clone(), d.clone()]))
            .collect();
        while let Some((file, trail)) = stack.pop() {
            if &file == start {
                panic!("an import circle: {}", trail.join(" -> "));
            }
            if !seen.insert(file.clone()) {
                continue;
            }
            for next in graph.get(&file).into_iter().flatten() {
                if next.ends_with("mod.rs") {
                    continue;
                }
                let mut t = trail.clone();
                t.push(next.clone());
                stack.push((next.clone(), t));
            }
        }
    }
}

/// Whether the crate's code defines `name` (a type, trait, function,
/// constant, field or enum variant).
fn defined(name: &str, sources: &str) -> bool {
    let patterns = [
        format!("struct {name}"),
        format!("enum {name}"),
        format!("trait {name}"),
        format!("type {name}"),
        format!("fn {name}"),
        format!("const {name}"),
        format!("static {name}"),
        format!("mod {name}"),
        format!("macro_rules! {name}"),
        format!("    {name},"),
        format!("    {name} {{"),
        format!("    {name}("),
        format!("    pub {name}:"),
        format!("    {name}:"),
    ];
    patterns.iter().any(|p| sources.contains(p.as_str()))
}

#[test]
fn every_name_the_page_gives_in_backticks_exists() {
    let page = read("docs/ARCHITECTURE.md");
    let mut sources = String::new();
    for file in source_files() {
        if file.ends_with(".rs") {
            sources.push_str(&read(&file));
        }
    }
    let names: BTreeSet<&str> = page.split('`').skip(1).step_by(2).collect();
    let mut unknown = Vec::new();
    for name in names {
        let name = name.trim_end_matches("()").trim_end_matches("(..)");
        if name.ends_with(".rs") {
            let exists = Path::new(ROOT).join(name).exists()
                || source_files()
                    .iter()
                    .any(|f| f.ends_with(&format!("/{name}")));
            if !exists {
                unknown.push(name.to_string());
            }
            continue;
        }
        // `Type::item` and `Type`: checked when they look like Rust paths.
        let parts: Vec<&str> = name.split("::").collect();
        let rusty = parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
        let typed = parts[0].chars().next().is_some_and(char::is_uppercase)
            && parts[0].chars().any(char::is_lowercase);
        if rusty && typed && parts.len() <= 2 && !KNOWN_ELSEWHERE.contains(&parts[0]) {
            for part in &parts {
                if !defined(part, &sources) {
                    unknown.push(name.to_string());
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "docs/ARCHITECTURE.md names what the code does not have: {unknown:?}"
    );
}

/// Types the page names from other crates and the standard library.
const KNOWN_ELSEWHERE: &[&str] = &[
    "Instant",
    "Interest",
    "TcpStream",
    "Token",
    "Poll",
    "Slab",
    "Rc",
    "Vec",
    "Box",
    "ServerConnection",
    "UnbufferedServerConnection",
    "ReadTraffic",
    "EncodeTlsData",
    "TransmitTlsData",
    "BlockedHandshake",
    "WriteTraffic",
    "KernelConnection",
    "CertifiedKey",
    "Ready",
    "Host",
    "WouldBlock",
    "None",
    "Some",
    "Ok",
    "Err",
];

#[test]
fn the_stream_trait_is_described_with_the_methods_it_has() {
    let page = read("docs/ARCHITECTURE.md");
    let at = page
        .find("see a `Stream`:")
        .expect("the page lists the Stream trait's methods");
    let sentence = &page[at + 15..];
    let sentence = &sentence[..sentence.find('.').unwrap()];
    let listed: BTreeSet<&str> = sentence.split('`').skip(1).step_by(2).collect();
    let trait_code = read("src/stream.rs");
    let body = &trait_code[trait_code.find("pub trait Stream").unwrap()..];
    let body = &body[..body.find("\n}\n").unwrap()];
    let methods: BTreeSet<&str> = body
        .match_indices("fn ")
        .map(|(i, _)| {
            let rest = &body[i + 3..];
            &rest[..rest.find('(').unwrap()]
        })
        .collect();
    assert_eq!(listed, methods);
}

#[test]
fn the_crate_docs_put_each_module_in_the_layer_the_table_does() {
    let page = read("docs/ARCHITECTURE.md");
    let table = layers(&page);
    let lib = read("src/lib.rs");
    let mut placed = 0;
    for line in lib.lines() {
        let Some(rest) = line.strip_prefix("//! - **") else {
            continue;
        };
        let layer = &rest[..rest.find("**").unwrap()];
        assert!(
            table.iter().any(|(n, _, _)| n == layer),
            "src/lib.rs names a layer the table does not: {layer}"
        );
        // The bullet runs to the next one or the end of the list.
        let start = lib.find(line).unwrap();
        let bullet = &lib[start..];
        let end = bullet[4..]
            .find("\n//! - **")
            .or_else(|| bullet.find("\n//!\n"))
            .map_or(bullet.len(), |e| e + 4);
        let bullet = &bullet[..end];
        for (i, _) in bullet.match_indices("[`") {
            let name = &bullet[i + 2..];
            let name = &name[..name.find('`').unwrap()];
            let segments: Vec<&str> = name.split("::").collect();
            let stem = format!("src/{}", segments.join("/"));
            let root = Path::new(ROOT);
            let Some(file) = [format!("{stem}.rs"), format!("{stem}/mod.rs")]
                .into_iter()
                .find(|f| root.join(f).exists())
            else {
                continue; // an item, not a module
            };
            if name == "batch" && layer == "Leaves" {
                continue; // named there for its syscalls, not placed
            }
            let found = layer_of(&file, &table);
            assert_eq!(
                found.as_deref(),
                Some(layer),
                "src/lib.rs puts {name} in {layer}; the table says {found:?}"
            );
            placed += 1;
        }
    }
    assert!(placed >= 20, "only {placed} modules placed");
}
