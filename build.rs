//! Before the build: the man pages from src/cli.rs, and the embedded site's date.
//!
//! Two jobs before the build:
//!
//! - Writes the man pages, `oneloop.1` and one per subcommand
//!   (`oneloop-serve.1`, `oneloop-rdate.1`), from the same clap definition
//!   the binary parses (`src/cli.rs`), so they cannot drift from `--help`.
//!   They land beside the binary (`target/<profile>/`), where the Debian
//!   package takes them from.
//! - Hands the linker `layout/oneloop.order`, the functions the server runs,
//!   to lay out first and together, so the running server keeps a few
//!   64 KiB windows of its text resident rather than nearly all of it (see
//!   `layout/record.py`).

use std::path::PathBuf;

#[allow(dead_code)]
#[path = "src/config.rs"]
mod config;

#[allow(dead_code)]
#[path = "src/cli.rs"]
mod cli;

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=src/cli.rs");
    println!("cargo:rerun-if-changed=src/config.rs");
    order_functions();
    // `--help` is the help; `oneloop help` needs no page of its own.
    let mut command = <cli::Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
    command.build();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    write_page(&command, "oneloop", &out)?;
    for sub in command.get_subcommands() {
        write_page(sub, &format!("oneloop-{}", sub.get_name()), &out)?;
    }
    Ok(())
}

/// Writes `NAME.1` into OUT_DIR and beside the binary (OUT_DIR is
/// target/<profile>/build/oneloop-<hash>/out), with `NAME.1.gz`, which the
/// Debian package takes (gzip -9, no name or time in the header, so the
/// same page makes the same bytes).
fn write_page(cmd: &clap::Command, name: &str, out: &std::path::Path) -> std::io::Result<()> {
    let mut page = Vec::new();
    // The footer names the program and its version on every page.
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    clap_mangen::Man::new(cmd.clone())
        .title(name)
        .source(format!("oneloop {version}"))
        .manual("oneloop manual")
        .render(&mut page)?;
    let page = with_synopsis(&String::from_utf8_lossy(&page), cmd, name);
    let page = with_sections(&page, name);
    std::fs::write(out.join(format!("{name}.1")), &page)?;
    if let Some(profile) = out.ancestors().nth(3) {
        std::fs::write(profile.join(format!("{name}.1")), &page)?;
        let file = std::fs::File::create(profile.join(format!("{name}.1.gz")))?;
        let mut gz = flate2::GzBuilder::new().write(file, flate2::Compression::best());
        std::io::Write::write_all(&mut gz, page.as_bytes())?;
        gz.finish()?;
    }
    Ok(())
}

/// clap_mangen's SYNOPSIS names each option without its value
/// (`[--http]`); this one says what each takes (`[--http ADDR]`), and
/// `...` where an option or operand may be given again.
fn with_synopsis(page: &str, cmd: &clap::Command, name: &str) -> String {
    const HEAD: &str = ".SH SYNOPSIS\n";
    let Some(start) = page.find(HEAD) else {
        return page.to_string();
    };
    let body = start + HEAD.len();
    let end = page[body..].find(".SH ").map_or(page.len(), |i| body + i);
    let esc = |s: &str| s.replace('-', "\\-");
    let value = |arg: &clap::Arg| match arg.get_value_names() {
        Some(names) => names
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" "),
        None => arg.get_id().as_str().to_uppercase(),
    };
    // A subcommand's page is named oneloop-serve, but the command is typed
    // `oneloop serve`.
    let typed = name.replacen('-', " ", 1);
    let mut words = vec![format!("\\fB{}\\fR", esc(&typed))];
    for arg in cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
    {
        let flag = match (arg.get_short(), arg.get_long()) {
            (Some(s), Some(l)) => format!("\\fB\\-{s}\\fR|\\fB\\-\\-{}\\fR", esc(l)),
            (None, Some(l)) => format!("\\fB\\-\\-{}\\fR", esc(l)),
            (Some(s), None) => format!("\\fB\\-{s}\\fR"),
            (None, None) => continue,
        };
        let mut word = flag;
        if arg.get_action().takes_values() {
            word.push_str(&format!(" \\fI{}\\fR", value(arg)));
        }
        let mut word = if arg.is_required_set() {
            word
        } else {
            format!("[{word}]")
        };
        if matches!(arg.get_action(), clap::ArgAction::Append) {
            word.push_str("...");
        }
        words.push(word);
    }
    for arg in cmd.get_positionals().filter(|a| !a.is_hide_set()) {
        let many = arg.get_num_args().is_some_and(|n| n.max_values() > 1);
        let word = format!("\\fI{}\\fR{}", value(arg), if many { "..." } else { "" });
        words.push(if arg.is_required_set() {
            word
        } else {
            format!("[{word}]")
        });
    }
    if cmd.has_subcommands() {
        words.push("[\\fIcommand\\fR]".to_string());
    }
    format!("{}{}\n{}", &page[..body], words.join(" "), &page[end..])
}

/// The sections clap does not write, before VERSION (or at the end):
/// SIGNALS, ENVIRONMENT, EXIT STATUS, EXAMPLES and SEE ALSO, for the
/// server's pages and for rdate's.
fn with_sections(page: &str, name: &str) -> String {
    const SERVER: &str = r#".SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Drain: close the listeners and idle connections, let responses in flight
finish (up to \fB\-\-shutdown\-timeout\fR), write out the access log, exit 0.
A second signal ends the drain at once.
.TP
\fBSIGHUP\fR
Reload every \fB\-\-tls\-cert\fR and \fB\-\-tls\-key\fR pair (open connections
keep theirs; a pair that fails to load keeps the old set) and reopen the
access log (for logrotate).
.SH ENVIRONMENT
.TP
\fBRUST_LOG\fR
What is logged to standard error: \fBinfo\fR (the default) prints the
start\-up line and the shutdown; \fBdebug\fR adds each connection's
errors; \fBoneloop=trace\fR narrates the loop. Nothing is printed per request.
.TP
\fBLISTEN_PID\fR, \fBLISTEN_FDS\fR, \fBLISTEN_FDNAMES\fR
Socket activation (sd_listen_fds(3)): sockets named \fBhttp\fR, \fBhttps\fR
and \fBtime\fR (stream or datagram) are served, and nothing else is bound
unless \fB\-\-http\fR, \fB\-\-https\fR or \fB\-\-time\fR ask for it.
.SH EXIT STATUS
0 after a clean shutdown; 1 when start\-up fails (an option, a file or an
address that cannot be used: the message names it and says what to do) or
the poller fails; 2 for a command line clap cannot parse.
.SH EXAMPLES
Serve a directory on every interface, HTTP and RFC 868 on their own ports:
.PP
.nf
    oneloop \-\-root /srv/www \-\-http 0.0.0.0:80 \-\-time 0.0.0.0:37 \-\-user nobody
.fi
.PP
HTTPS and HTTP/2, plain HTTP answering with a redirect to them:
.PP
.nf
    oneloop \-\-root /srv/www \-\-https 0.0.0.0:443 \-\-tls\-cert fullchain.pem \\
        \-\-tls\-key privkey.pem \-\-redirect\-https \-\-hsts 31536000
.fi
.PP
Metrics, a health page and an access log in JSON lines:
.PP
.nf
    oneloop \-\-metrics\-path /metrics \-\-health\-path /healthz \\
        \-\-access\-log /var/log/oneloop.jsonl \-\-access\-log\-format json
.fi
.SH SEE ALSO
\fBoneloop\-rdate\fR(1), \fBsystemd.socket\fR(5), \fBrdate\fR(8)
"#;
    const RDATE: &str = r#".SH EXIT STATUS
0 when at least one server answered and every name resolved; 1 otherwise;
2 for a command line clap cannot parse.
.SH EXAMPLES
.nf
    oneloop rdate \-\-port 3737 \-\-both 127.0.0.1 localhost
    oneloop rdate time.example.net
    oneloop rdate \-\-udp \-\-timeout 500 \-\-json 192.0.2.1 192.0.2.2
.fi
.SH SEE ALSO
\fBoneloop\fR(1), \fBoneloop\-serve\fR(1), \fBrdate\fR(8)
"#;
    let extra = if name == "oneloop-rdate" {
        RDATE
    } else {
        SERVER
    };
    match page.find(".SH VERSION") {
        Some(at) => format!("{}{extra}{}", &page[..at], &page[at..]),
        None => format!("{page}{extra}"),
    }
}

/// Passes the function order to the linker where the linker is lld: Rust's
/// own for x86_64 Linux with glibc since 1.90 (GNU ld has no such option,
/// and the musl target links with it). Names the build no longer has are
/// skipped without a warning; `layout/record.py --check` counts them.
fn order_functions() {
    println!("cargo:rerun-if-changed=layout/oneloop.order");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    let target = std::env::var("TARGET").unwrap_or_default();
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // A linker chosen by hand may not be lld.
    let own_linker = flags.contains("linker")
        || std::env::var_os("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_some();
    if target != "x86_64-unknown-linux-gnu" || own_linker || !rustc_links_with_lld() {
        return;
    }
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let order = dir.join("layout").join("oneloop.order");
    if order.exists() {
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}

/// rustc 1.90 and later link x86_64 Linux binaries with lld.
fn rustc_links_with_lld() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = std::process::Command::new(rustc).arg("-V").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let text = String::from_utf8_lossy(&out.stdout);
    let mut version = text.split_whitespace().nth(1).unwrap_or("").split('.');
    let major: u32 = version.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let minor: u32 = version.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    (major, minor) >= (1, 90)
}
