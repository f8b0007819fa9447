//! Durability helpers shared by the journal and the snapshot store.

use std::fs::File;
use std::io;
use std::path::Path;

/// Makes the creation, rename or removal of entries in `dir` durable;
/// without it a freshly synced file could vanish after a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
