//! Segment files: framing, checksums, reading back and cutting torn tails.
//!
//! A segment is `NNNNNNNNNNNNNNNNNNNN.log` in the data directory: a
//! sequence of frames `[length u32 LE][CRC32C of the payload u32 LE]
//! [payload]`, the first payload being a header (`record.rs`). A snapshot
//! segment (written by compaction as `.tmp`, synced, then renamed) holds
//! the whole state and makes every older segment obsolete.
//!
//! Reading stops at the first frame that is short or whose checksum does
//! not match: that is where a write was torn (power cut mid-write) or the
//! disk went bad. The rest of that segment, and any later segment, is cut
//! off and reported, so the state is always a prefix of what was written,
//! and everything acknowledged (synced before its acknowledgement) lies
//! inside that prefix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bytes::{BufMut, Bytes, BytesMut};

use crate::record::{self, Record};

/// Bytes of a frame before its payload.
pub(crate) const FRAME_HEADER: usize = 8;

/// A frame's payload may not exceed this (a corrupt length must not make
/// recovery allocate gigabytes).
pub(crate) const MAX_RECORD: usize = 512 * 1024 * 1024;

/// Appends a frame holding `payload` to `out`.
pub(crate) fn frame(payload: &[u8], out: &mut BytesMut) {
    out.put_u32_le(payload.len() as u32);
    out.put_u32_le(crc32c::crc32c(payload));
    out.put_slice(payload);
}

/// The path of segment `n` in `dir`.
pub(crate) fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:020}.log"))
}

/// The segments in `dir`, oldest first; removes leftover `.tmp` files of
/// an interrupted compaction.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".log.tmp") {
            tracing::info!(
                "Removing {}: a compaction that did not finish.",
                path.display()
            );
            fs::remove_file(&path)?;
            continue;
        }
        if let Some(n) = name
            .strip_suffix(".log")
            .and_then(|n| n.parse::<u64>().ok())
        {
            segments.push((n, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// What reading one segment found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// The records, in order (the header first).
    pub(crate) records: Vec<Record>,
    /// Bytes up to the end of the last good frame.
    pub(crate) good_len: u64,
    /// Bytes after it (a torn or corrupt tail), 0 when the file is whole.
    pub(crate) dropped: u64,
    /// Why the tail was cut, if it was.
    pub(crate) reason: Option<String>,
}

/// Reads a segment's frames up to the first bad one.
pub(crate) fn scan(path: &Path) -> io::Result<Scan> {
    let mut data = Vec::new();
    File::open(path)?.read_to_end(&mut data)?;
    let data = Bytes::from(data);
    let mut records = Vec::new();
    let mut at = 0usize;
    let mut reason = None;
    while at < data.len() {
        if data.len() - at < FRAME_HEADER {
            reason = Some(format!("a frame header cut short at byte {at}"));
            break;
        }
        let len = u32::from_le_bytes(data[at..at + 4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(data[at + 4..at + 8].try_into().expect("4 bytes"));
        if len > MAX_RECORD || data.len() - at - FRAME_HEADER < len {
            reason = Some(format!("a record of {len} bytes cut short at byte {at}"));
            break;
        }
        let payload = data.slice(at + FRAME_HEADER..at + FRAME_HEADER + len);
        if crc32c::crc32c(&payload) != crc {
            reason = Some(format!("a checksum mismatch at byte {at}"));
            break;
        }
        match record::decode(payload) {
            Ok(r) => records.push(r),
            Err(e) => {
                reason = Some(format!("an unreadable record at byte {at}: {}", e.0));
                break;
            }
        }
        at += FRAME_HEADER + len;
    }
    if at == 0 || !matches!(records.first(), Some(Record::Header { .. })) {
        reason.get_or_insert_with(|| "no segment header".to_string());
        records.clear();
        at = 0;
    }
    Ok(Scan {
        records,
        good_len: at as u64,
        dropped: (data.len() - at) as u64,
        reason,
    })
}

/// Opens a segment for appending, creating it (with its header) if needed.
pub(crate) fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let len = file.metadata()?.len();
    Ok((file, len))
}

/// Makes a directory entry change (create, rename, delete) durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
