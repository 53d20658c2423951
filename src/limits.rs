//! The one guard between a number a user gives and an allocation: element counts computed with
//! checked arithmetic, and a memory budget no single request may exceed. Every constructor,
//! reader, decoder, model builder and plot that sizes memory from user input asks here first,
//! so an oversized request is an error naming the call, the size and the budget, and the
//! session (with hours of a researcher's state) lives on.
//!
//! The budget is `--max-memory` / `GAXSH_MAX_MEMORY` (`8G`, `512M`, bytes), else three quarters
//! of the least of physical memory, the container's memory limit and `ulimit -v`.

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};

/// 0 = not decided yet.
static BUDGET: AtomicU64 = AtomicU64::new(0);

/// Used when physical memory cannot be read.
const FALLBACK: u64 = 8 << 30;

/// Parse a size: bytes, or a number with K, M, G, T (powers of 1024; `KiB`/`KB` alike).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let stripped = upper.trim_end_matches('B').trim_end_matches('I').trim_end();
    let (num, shift) = match stripped.chars().last() {
        Some('K') => (&stripped[..stripped.len() - 1], 10),
        Some('M') => (&stripped[..stripped.len() - 1], 20),
        Some('G') => (&stripped[..stripped.len() - 1], 30),
        Some('T') => (&stripped[..stripped.len() - 1], 40),
        _ => (stripped, 0),
    };
    let v: f64 = num.trim().parse().map_err(|_| {
        Error::invalid(format!(
            "memory size '{s}': expected a number of bytes or one with K, M, G or T (8G, 512M)"
        ))
    })?;
    let bytes = v * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes > u64::MAX as f64 {
        return Err(Error::invalid(format!("memory size '{s}' is out of range")));
    }
    Ok(bytes as u64)
}

fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The container's memory limit (cgroup v2, then v1), when one is set.
fn cgroup_limit() -> Option<u64> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse().ok())
}

/// The process's address-space limit (`ulimit -v`), when one is set.
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Three quarters of the least of physical memory, the container's limit and the address-space
/// limit: what one request may take and leave the session (and the machine) room to live.
fn default_budget() -> u64 {
    [physical_memory(), cgroup_limit(), address_space_limit()]
        .into_iter()
        .flatten()
        .min()
        .map(|m| m / 4 * 3)
        .unwrap_or(FALLBACK)
}

/// The budget in bytes (`init`'s, else `GAXSH_MAX_MEMORY`'s, else the default).
pub fn budget() -> u64 {
    match BUDGET.load(Ordering::Relaxed) {
        0 => {
            let b = std::env::var("GAXSH_MAX_MEMORY")
                .ok()
                .and_then(|s| parse_size(&s).ok())
                .unwrap_or_else(default_budget);
            BUDGET.store(b, Ordering::Relaxed);
            b
        }
        b => b,
    }
}

/// Decide the budget at start-up from the `--max-memory` flag or `GAXSH_MAX_MEMORY`; a value
/// that does not parse is an error naming where it came from, not a silent default.
pub fn init(flag: Option<&str>) -> Result<u64> {
    let (value, origin) = match (flag, std::env::var("GAXSH_MAX_MEMORY").ok()) {
        (Some(f), _) => (f.to_string(), "--max-memory"),
        (None, Some(e)) => (e, "GAXSH_MAX_MEMORY"),
        (None, None) => {
            let b = default_budget();
            set_budget(b);
            return Ok(b);
        }
    };
    let b = parse_size(&value).map_err(|e| Error::invalid(format!("{origin}: {e}")))?;
    set_budget(b);
    Ok(b)
}

/// Set the budget (the `--max-memory` flag).
pub fn set_budget(bytes: u64) {
    BUDGET.store(bytes.max(1), Ordering::Relaxed);
}

/// Human-readable bytes.
pub fn show(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn too_large(what: &str, requested: String) -> Error {
    Error::TooLarge {
        what: what.to_string(),
        requested,
        budget: show(budget()),
    }
}

/// The element count of a shape, refusing one that overflows.
pub fn count(what: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            too_large(
                what,
                format!("a shape of {dims:?} (more elements than exist)"),
            )
        })
}

/// Check that `elements` of `bytes_each` fit the budget.
pub fn check(what: &str, elements: usize, bytes_each: usize) -> Result<()> {
    match (elements as u64).checked_mul(bytes_each as u64) {
        Some(b) if b <= budget() => Ok(()),
        Some(b) => Err(too_large(
            what,
            format!("{elements} elements ({})", show(b)),
        )),
        None => Err(too_large(what, format!("{elements} elements"))),
    }
}

/// Count and check a shape (f64 elements unless said otherwise); returns the count.
pub fn shape(what: &str, dims: &[usize], bytes_each: usize) -> Result<usize> {
    let n = count(what, dims)?;
    check(what, n, bytes_each)?;
    Ok(n)
}

/// Check that reading `bytes` of a file fits the budget.
pub fn bytes(what: &str, bytes: u64) -> Result<()> {
    if bytes <= budget() {
        Ok(())
    } else {
        Err(too_large(what, show(bytes)))
    }
}

/// Read a whole file, refusing devices and pipes (`/dev/zero` would never end) and files larger
/// than the budget.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::bad_file(path, "not a regular file"));
    }
    bytes(&path.display().to_string(), meta.len())?;
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// Read text from a file, or from a pipe or device (`gaxsh /dev/stdin`, `<(…)`) up to `cap`
/// bytes: a stream that never ends (`/dev/zero`) is cut off with an error, not read forever.
pub fn read_text_stream(path: &std::path::Path, cap: u64) -> Result<String> {
    use std::io::Read;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::bad_file(path, "is a folder, not a file"));
    }
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut buf = Vec::new();
    f.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > cap {
        return Err(Error::bad_file(
            path,
            format!("longer than {}; not a script?", show(cap)),
        ));
    }
    String::from_utf8(buf).map_err(|_| Error::bad_file(path, "not a text file (invalid UTF-8)"))
}

/// `read_file` for text: the file must also be UTF-8.
pub fn read_text(path: &std::path::Path) -> Result<String> {
    String::from_utf8(read_file(path)?)
        .map_err(|_| Error::bad_file(path, "not a text file (invalid UTF-8)"))
}

/// The process's peak resident memory (VmHWM) in MiB, or -1 where /proc does not say.
pub fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kb.map_or(-1.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert_eq!(parse_size("8G").unwrap(), 8 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert!(parse_size("lots").is_err());
        assert!(parse_size("-3G").is_err());
    }

    #[test]
    fn overflowing_shapes_are_refused() {
        // 2³² × 2³² wraps to 0 in unchecked arithmetic.
        assert!(count("zeros", &[1 << 32, 1 << 32]).is_err());
        assert_eq!(count("zeros", &[3, 0, 5]).unwrap(), 0);
        assert!(shape("zeros", &[usize::MAX], 8).is_err());
    }
}
