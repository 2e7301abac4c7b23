//! Two jobs before the build:
//!
//! - Writes the man page, `oneloop.1`, from the same clap definition the
//!   binary parses (`src/cli.rs`), so it cannot drift from `--help`. It lands
//!   beside the binary (`target/<profile>/oneloop.1`), where the Debian
//!   package takes it from.
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
    let command = <cli::Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command).render(&mut page)?;
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    std::fs::write(out.join("oneloop.1"), &page)?;
    // OUT_DIR is target/<profile>/build/oneloop-<hash>/out.
    if let Some(profile) = out.ancestors().nth(3) {
        std::fs::write(profile.join("oneloop.1"), &page)?;
    }
    Ok(())
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
