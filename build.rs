//! Writes the man page, `oneloop.1`, from the same clap definition the
//! binary parses (`src/cli.rs`), so it cannot drift from `--help`. It lands
//! beside the binary (`target/<profile>/oneloop.1`), where the Debian
//! package takes it from.

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
