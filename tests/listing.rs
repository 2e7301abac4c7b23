//! Directory listings (`--list-dirs`) over HTTP/1.1 and HTTP/2, and the access log in JSON lines.
//!
//! A listing is off by default (404, as nginx's `autoindex off`); on, a
//! directory without `index.html` lists its files and directories sorted
//! (directories first), with sizes and dates, names escaped for HTML and
//! for links, hidden names left out; JSON for a client that prefers it,
//! parsed back by Python's json module. The same bytes over HTTP/2 (curl
//! with prior knowledge). `--access-log-format json` lines are read back
//! by the same parser.

mod common;

use std::fs;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use common::{Response, TempDir, connect, exchange, get, start};
use oneloop::Config;

/// A root with a listable directory `d/` holding names that need
/// escaping, a hidden file, a subdirectory, and a directory with an index.
fn tree(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    let d = dir.path().join("d");
    fs::create_dir_all(d.join("sub")).unwrap();
    fs::create_dir_all(dir.path().join("indexed")).unwrap();
    fs::write(dir.path().join("indexed/index.html"), "<p>index</p>").unwrap();
    fs::write(d.join("b.txt"), "bb").unwrap();
    fs::write(d.join("a b.txt"), "a").unwrap();
    fs::write(d.join("<x>&\"q\".txt"), vec![b'x'; 2048]).unwrap();
    fs::write(d.join(".secret"), "hidden").unwrap();
    fs::write(d.join("sub/inner.txt"), "in").unwrap();
    dir
}

fn ask(addr: SocketAddr, method: &str, target: &str, accept: Option<&str>) -> Response {
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    get(
        addr,
        &format!("{method} {target} HTTP/1.1\r\nHost: t\r\n{accept}\r\n"),
    )
}

/// `text` parsed as JSON by Python and printed back in a fixed form.
fn python_json(text: &str, program: &str) -> String {
    let mut child = Command::new("python3")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "not JSON: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn directories_are_listed_only_when_asked() {
    let root = tree("listing-off");
    let off = start(Config {
        root: Some(root.path().to_path_buf()),
        ..Config::ephemeral()
    });
    assert_eq!(ask(off.http[0], "GET", "/d/", None).status, 404);
    off.stop().unwrap();

    let on = start(Config {
        root: Some(root.path().to_path_buf()),
        list_dirs: true,
        ..Config::ephemeral()
    });
    let addr = on.http[0];
    // A directory with an index serves it; one named without its slash
    // is still redirected.
    assert_eq!(ask(addr, "GET", "/indexed/", None).text(), "<p>index</p>");
    assert_eq!(ask(addr, "GET", "/d", None).status, 301);
    let html = ask(addr, "GET", "/d/", Some("text/html,*/*;q=0.8"));
    assert_eq!(html.status, 200);
    assert_eq!(
        html.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = html.text();
    assert!(page.contains("<title>Index of /d/</title>"), "{page}");
    // Sorted: the directory first, then names in byte order; escaped.
    let order: Vec<usize> = [
        "href=\"./sub/\">sub/</a>",
        "href=\"./%3Cx%3E%26%22q%22.txt\">&lt;x&gt;&amp;&quot;q&quot;.txt</a>",
        "href=\"./a%20b.txt\">a b.txt</a>",
        "href=\"./b.txt\">b.txt</a>",
    ]
    .iter()
    .map(|entry| {
        page.find(entry)
            .unwrap_or_else(|| panic!("{entry} in {page}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(page.contains("title=\"2048 bytes\">2.0 KiB<"), "{page}");
    assert!(page.contains("href=\"../\""), "{page}");
    assert!(!page.contains("secret"), "a hidden name is listed: {page}");
    // The links work.
    assert_eq!(ask(addr, "GET", "/d/a%20b.txt", None).text(), "a");
    // HEAD: the head alone, the same length.
    let head = ask(addr, "HEAD", "/d/", None);
    assert_eq!(head.header("content-length"), html.header("content-length"));

    let json = ask(addr, "GET", "/d/", Some("application/json"));
    assert_eq!(json.header("content-type"), Some("application/json"));
    let names = python_json(
        &json.text(),
        "import json,sys\nfor e in json.load(sys.stdin): print(e['name'], e['type'], e['size'], e['modified'][:2])",
    );
    assert_eq!(
        names,
        "sub directory 4096 20\n<x>&\"q\".txt file 2048 20\na b.txt file 1 20\nb.txt file 2 20\n"
            .replace(
                "4096",
                &fs::metadata(root.path().join("d/sub"))
                    .unwrap()
                    .len()
                    .to_string()
            )
    );
    // Over HTTP/2, the same answer (curl by prior knowledge).
    let h2 = Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-H",
            "Accept: application/json",
        ])
        .arg(format!("http://{addr}/d/"))
        .output()
        .expect("curl");
    assert!(h2.status.success());
    assert_eq!(String::from_utf8_lossy(&h2.stdout), json.text());
    on.stop().unwrap();
}

#[test]
fn a_listed_directory_outside_the_root_is_refused() {
    let root = tree("listing-escape");
    let outside = TempDir::new("listing-outside");
    fs::write(outside.path().join("secret.txt"), "s").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
    let server = start(Config {
        root: Some(root.path().to_path_buf()),
        list_dirs: true,
        ..Config::ephemeral()
    });
    let r = ask(server.http[0], "GET", "/out/", None);
    assert_eq!(r.status, 403);
    assert!(!r.text().contains("secret"));
    server.stop().unwrap();
}

#[test]
fn the_access_log_in_json_lines_parses_as_json() {
    let root = tree("log-json");
    let logs = TempDir::new("log-json-out");
    let path = logs.path().join("access.jsonl");
    let server = start(Config {
        root: Some(root.path().to_path_buf()),
        access_log: Some(path.to_str().unwrap().into()),
        access_log_format: oneloop::config::LogFormat::Json,
        ..Config::ephemeral()
    });
    let mut s = connect(server.http[0]);
    let two = "GET /d/b.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: q\"\\\u{e9}\r\n\r\n\
               GET /nope HTTP/1.1\r\nHost: t\r\nReferer: http://r/\r\n\r\n";
    exchange(&mut s, two.as_bytes(), 2);
    drop(s);
    server.stop().unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let fields = python_json(
        &text,
        "import json,sys\nfor l in sys.stdin:\n e=json.loads(l)\n print(e['remote'],e['request'],e['status'],e['bytes'],e['referer'],e['user_agent'],e['time'][-1])",
    );
    assert_eq!(
        fields,
        "127.0.0.1 GET /d/b.txt HTTP/1.1 200 2 None q\"\\\u{c3}\u{a9} Z\n\
         127.0.0.1 GET /nope HTTP/1.1 404 11 http://r/ None Z\n"
    );
}
