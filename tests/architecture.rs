//! The map matches the territory: docs/ARCHITECTURE.md's file map and layers, checked against the code.
//!
//! Four checks, each of which fails on the drift it names:
//!
//! - the file map names every source file once, and no file that is gone;
//! - each Rust file's line in the map is its module's first doc line, so
//!   the map and the module docs say the same thing about what it holds;
//! - the layer table puts every source file in one layer, and every path
//!   in a file's code that starts at `crate::`, `super::` or `self::`
//!   (test items aside, the code after them read on) goes to its own layer
//!   or one the table says it may import; no file reaches itself through
//!   its imports, a folder's `pub use` re-exports followed to the file
//!   that defines the item;
//! - every type, function, module path and file the page names in
//!   backticks exists (`Type::item`, `response::queue`, `conn/edge.rs`).
//!
//! `the_check_catches_each_escape_it_once_let_through` feeds the checks
//! the imports that once slipped past them.

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

/// The code of a Rust file without its comments and its test items: each
/// item under `#[cfg(test)]` is skipped to its end (a `mod x;` line, or a
/// braced block), and the code after it is read on.
fn code(path: &str) -> String {
    strip(&read(path))
}

/// See [`code`]: `text` without comments and test items.
fn strip(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            // Skip the item: to its `;`, or until its braces close.
            let mut depth = 0i32;
            let mut opened = false;
            for item in lines.by_ref() {
                let item = item.find("//").map_or(item, |i| &item[..i]);
                depth += item.matches('{').count() as i32 - item.matches('}').count() as i32;
                opened |= item.contains('{');
                if (opened && depth <= 0) || (!opened && item.trim_end().ends_with(';')) {
                    break;
                }
            }
            continue;
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

/// The module path of a source file: `src/conn/work.rs` is `conn::work`,
/// `src/conn/mod.rs` is `conn`.
fn module_of(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").unwrap_or(file);
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = rel.split('/').map(str::to_string).collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// The source file a path from the crate's root lands in (`conn::work::X`
/// -> `src/conn/work.rs`), following a folder's `pub use child::Item`
/// re-exports to the child that defines the item.
fn resolve(segments: &[&str]) -> Option<String> {
    let root = Path::new(ROOT);
    let mut best = None;
    let mut used = 0;
    for n in 1..=segments.len() {
        let stem = format!("src/{}", segments[..n].join("/"));
        for candidate in [format!("{stem}.rs"), format!("{stem}/mod.rs")] {
            if root.join(&candidate).exists() {
                best = Some(candidate);
                used = n;
            }
        }
    }
    let file = best?;
    // `crate::conn::Transport`: conn/mod.rs says `pub use transport::Transport`.
    if file.ends_with("mod.rs")
        && let Some(item) = segments.get(used)
    {
        let text = read(&file);
        for line in text.lines() {
            let line = line.trim();
            if let Some(path) = line
                .strip_prefix("pub use ")
                .and_then(|l| l.strip_suffix(';'))
                && let Some((child, name)) = path.rsplit_once("::")
                && name == *item
                && !child.contains("::")
                && !child.starts_with("crate")
            {
                let dir = file.trim_end_matches("mod.rs");
                let child_file = format!("{dir}{child}.rs");
                if root.join(&child_file).exists() {
                    return Some(child_file);
                }
            }
        }
    }
    Some(file)
}

/// Every path in `code` that starts at `crate::`, `super::` or `self::`,
/// as segments from the crate's root, seen from the module `module`; the
/// items of a `use` with braces each give one.
fn paths(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < code.len() {
        if !code.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &code[i..];
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| rest.starts_with(p));
        let boundary = i == 0
            || !(bytes[i - 1].is_ascii_alphanumeric()
                || bytes[i - 1] == b'_'
                || bytes[i - 1] == b':');
        if !(starts && boundary) {
            i += 1;
            continue;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let raw: Vec<&str> = rest[..end].split("::").filter(|s| !s.is_empty()).collect();
        // From the crate's root: `self` is this module, each `super` one up.
        let mut base: Vec<String> = module.to_vec();
        let mut segs = raw.iter().peekable();
        match segs.peek() {
            Some(&&"crate") => {
                base.clear();
                segs.next();
            }
            Some(&&"self") => {
                segs.next();
            }
            _ => {
                while segs.peek() == Some(&&"super") {
                    segs.next();
                    base.pop();
                }
            }
        }
        base.extend(segs.map(|s| s.to_string()));
        // `use a::b::{c, d::e, self}`: one path per item.
        if rest[end..].starts_with('{') {
            let close = rest[end..].find('}').map_or(rest.len(), |c| end + c);
            for item in rest[end + 1..close].split(',') {
                let item = item.trim().split("::").next().unwrap_or("");
                let mut path = base.clone();
                if item != "self" && !item.is_empty() {
                    path.push(item.to_string());
                }
                found.push(path);
            }
        } else {
            found.push(base);
        }
        i += end.max(1);
    }
    found
}

/// Every other source file the code of `file` imports.
fn imports_in(file: &str, code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for path in paths(code, &module_of(file)) {
        let segs: Vec<&str> = path.iter().map(String::as_str).collect();
        if let Some(dep) = resolve(&segs)
            && dep != file
        {
            found.insert(dep);
        }
    }
    found
}

/// Every file a Rust file's code imports.
fn imports(path: &str) -> BTreeSet<String> {
    imports_in(path, &code(path))
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

type Table = Vec<(String, Vec<String>, Vec<String>)>;

/// The imports of `file` (in `layer`) that the table forbids.
fn forbidden(file: &str, deps: &BTreeSet<String>, table: &Table) -> Vec<String> {
    let Some(layer) = layer_of(file, table) else {
        return vec![format!("{file} is in no layer")];
    };
    let may = &table.iter().find(|(n, _, _)| *n == layer).unwrap().2;
    let mut broken = Vec::new();
    for dep in deps {
        let Some(to) = layer_of(dep, table) else {
            continue;
        };
        if to != layer && !may.iter().any(|m| m == "*" || *m == to) {
            broken.push(format!("{file} ({layer}) imports {dep} ({to})"));
        }
    }
    broken
}

/// A file that reaches itself through its imports, with the trail.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = graph[start]
            .iter()
            .map(|d| (d.clone(), vec![start.clone(), d.clone()]))
            .collect();
        while let Some((file, trail)) = stack.pop() {
            if &file == start {
                return Some(trail);
            }
            if !seen.insert(file.clone()) {
                continue;
            }
            for next in graph.get(&file).into_iter().flatten() {
                let mut t = trail.clone();
                t.push(next.clone());
                stack.push((next.clone(), t));
            }
        }
    }
    None
}

#[test]
fn every_import_keeps_the_layer_rules_and_none_goes_round_in_a_circle() {
    let page = read("docs/ARCHITECTURE.md");
    let table = layers(&page);
    assert!(table.len() >= 8, "{table:?}");
    let mut broken = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in crate_files() {
        let deps = imports(&file);
        broken.extend(forbidden(&file, &deps, &table));
        graph.insert(file, deps);
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    // No file reaches itself through its imports, through a folder's
    // mod.rs too (its re-exports are followed to the file that defines
    // the item).
    if let Some(trail) = circle(&graph) {
        panic!("an import circle: {}", trail.join(" -> "));
    }
}

/// Each way an import once slipped past the check, caught now.
#[test]
fn the_check_catches_each_escape_it_once_let_through() {
    let table = layers(&read("docs/ARCHITECTURE.md"));
    let check = |file: &str, code: &str| forbidden(file, &imports_in(file, &strip(code)), &table);
    // 1. A `super::` path up into the loop, from the connection's room.
    let up = check("src/conn/work.rs", "use super::super::server::Server;\n");
    assert_eq!(up.len(), 1, "{up:?}");
    assert!(up[0].contains("src/server/mod.rs (Loop)"), "{up:?}");
    // ... and `self::` paths resolve from the file's own module.
    let own = imports_in("src/conn/mod.rs", "use self::work::Work;\n");
    assert!(own.contains("src/conn/work.rs"), "{own:?}");
    // 2. Code after a test module is read, the test module not.
    let after = "#[cfg(test)]\nmod tests {\n    use crate::server::Server;\n}\nuse crate::server::Server;\n";
    assert!(!strip(after).contains("mod tests"), "{}", strip(after));
    assert_eq!(check("src/conn/work.rs", after).len(), 1);
    let only_test = "#[cfg(test)]\nmod tests {\n    use crate::server::Server;\n}\n";
    assert!(check("src/conn/work.rs", only_test).is_empty());
    // 3. Meaning reaching into a framing, and one framing into the other.
    assert_eq!(
        check("src/http/files.rs", "use crate::http1::heads::CANNED;\n").len(),
        1
    );
    assert_eq!(
        check("src/http2/response.rs", "use crate::http1::heads;\n").len(),
        1
    );
    assert_eq!(
        check(
            "src/http1/response.rs",
            "use crate::{http2::frame, out::Chunk};\n"
        )
        .len(),
        1
    );
    // 4. A circle through a folder's mod.rs: its re-export is followed to
    // the file that defines the item, and the edge counts.
    assert_eq!(
        resolve(&["conn", "Transport"]).as_deref(),
        Some("src/conn/transport.rs")
    );
    let graph: BTreeMap<String, BTreeSet<String>> =
        [("src/a.rs", "src/b/mod.rs"), ("src/b/mod.rs", "src/a.rs")]
            .into_iter()
            .map(|(f, d)| (f.to_string(), BTreeSet::from([d.to_string()])))
            .collect();
    assert!(circle(&graph).is_some());
    // 5. Lowercase paths named on the page are checked too.
    let sources = all_sources();
    assert!(unknown_name("response::queue", &sources).is_none());
    assert!(unknown_name("response::no_such_fn", &sources).is_some());
    assert!(unknown_name("nosuchmodule::queue", &sources).is_some());
    assert!(unknown_name("conn/edge.rs", &sources).is_none());
    assert!(unknown_name("http/conn.rs", &sources).is_some());
}

/// Every source file holds one job: at most 650 lines before its tests.
#[test]
fn every_source_file_is_at_most_650_lines_before_its_tests() {
    let mut long = Vec::new();
    for file in crate_files() {
        let text = read(&file);
        let before = text
            .lines()
            .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
            .count();
        if before > 650 {
            long.push(format!("{file}: {before} lines"));
        }
    }
    assert!(long.is_empty(), "split these: {long:?}");
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

/// Every source file's text, one after another.
fn all_sources() -> String {
    let mut sources = String::new();
    for file in source_files() {
        if file.ends_with(".rs") {
            sources.push_str(&read(&file));
        }
    }
    sources
}

/// `Some(name)` when the page names something the code does not have: a
/// file (`conn/edge.rs`, matched by the end of its path), a type or a
/// `Type::item`, or a lowercase path (`response::queue`,
/// `http::answer::decide`: a module the path ends in, and the item
/// defined in its file).
fn unknown_name(name: &str, sources: &str) -> Option<String> {
    let name = name.trim_end_matches("()").trim_end_matches("(..)");
    if name.ends_with(".rs") {
        let exists = Path::new(ROOT).join(name).exists()
            || source_files()
                .iter()
                .any(|f| f == name || f.ends_with(&format!("/{name}")));
        return (!exists).then(|| name.to_string());
    }
    let parts: Vec<&str> = name.split("::").collect();
    let rusty = parts
        .iter()
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'));
    if !rusty {
        return None;
    }
    let first = parts[0];
    let typed = first.chars().next().is_some_and(char::is_uppercase)
        && first.chars().any(char::is_lowercase);
    if typed && parts.len() <= 2 && !KNOWN_ELSEWHERE.contains(&first) {
        return parts
            .iter()
            .any(|p| !defined(p, sources))
            .then(|| name.to_string());
    }
    let lower = first
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if lower && parts.len() >= 2 && !EXTERNAL_MODULES.contains(&first) {
        // The longest leading run of segments that is a module file of the
        // crate; what follows is an item of that module (or a type's item).
        let files: Vec<String> = source_files()
            .into_iter()
            .filter(|f| f.starts_with("src/") && f.ends_with(".rs"))
            .collect();
        for n in (1..=parts.len()).rev() {
            let stem = parts[..n].join("/");
            let module = files.iter().find(|f| {
                f.ends_with(&format!("/{stem}.rs")) || f.ends_with(&format!("/{stem}/mod.rs"))
            });
            if let Some(file) = module {
                let text = read(file);
                return match &parts[n..] {
                    [] => None,
                    [item, ..] => (!defined(item, &text)).then(|| name.to_string()),
                };
            }
        }
        return Some(name.to_string());
    }
    None
}

#[test]
fn every_name_the_page_gives_in_backticks_exists() {
    let page = read("docs/ARCHITECTURE.md");
    let sources = all_sources();
    let names: BTreeSet<&str> = page.split('`').skip(1).step_by(2).collect();
    let unknown: Vec<String> = names
        .into_iter()
        .filter_map(|name| unknown_name(name, &sources))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/ARCHITECTURE.md names what the code does not have: {unknown:?}"
    );
}

/// Modules of other crates and the standard library the page names.
const EXTERNAL_MODULES: &[&str] = &[
    "std", "core", "mio", "rustls", "ring", "libc", "slab", "httparse",
];

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
