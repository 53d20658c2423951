//! A wall around third-party decoders that can panic on corrupt input (candle's pickle reader
//! shifts and indexes by values it read from the file). Inside `contain`, a panic becomes an
//! error naming the file, and the panic hook stays quiet, so a bad checkpoint costs the user
//! one error message and not the session.

use crate::error::{Error, Result};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Run `f`; if it panics, return an error `what: the reader failed (...)` instead.
pub fn contain<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    static QUIET_HOOK: Once = Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CONTAINED.get() {
                previous(info)
            }
        }));
    });
    let was = CONTAINED.replace(true);
    let outcome = catch_unwind(AssertUnwindSafe(f));
    CONTAINED.set(was);
    outcome.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("an internal error");
        Err(Error::invalid(format!(
            "{what}: the file is corrupt (its reader failed: {why})"
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_inside_becomes_an_error_and_values_pass_through() {
        let e = contain::<()>("x.pt", || panic!("shift overflow")).unwrap_err();
        assert!(e.to_string().contains("x.pt: the file is corrupt"), "{e}");
        assert!(e.to_string().contains("shift overflow"), "{e}");
        assert_eq!(contain("x.pt", || Ok(3)).unwrap(), 3);
    }
}
