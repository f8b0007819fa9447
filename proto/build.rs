//! Generates the Rust code of the .proto files with a protoc shipped inside a
//! crate, so a fresh machine needs no hand-installed compiler.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded; nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("incontra_descriptor.bin"))
        .compile_protos(
            &[
                "incontra/events/v1/events.proto",
                "incontra/match/v1/match.proto",
            ],
            &["."],
        )?;
    println!("cargo:rerun-if-changed=incontra");
    Ok(())
}
