//! Helpers for checks that run in `const` items: `bao::app!` calls them at
//! compile time, so a clash fails the build with a message naming both sides.

/// Whether two strings are equal (usable in `const fn`).
pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The size of a compile-time error message buffer.
pub(crate) const MESSAGE_LEN: usize = 512;

/// A message built at compile time. `bao::app!` checks each item of its
/// lists in a `const` spanned at that item and panics with the message,
/// so the build error points at the item at fault:
/// `const _: () = if let Some(m) = check(.., i) { panic!("{}", m.as_str()) };`
#[derive(Clone, Copy)]
pub struct Message {
    buf: [u8; MESSAGE_LEN],
    len: usize,
}

impl Message {
    /// The first `len` bytes of `buf`.
    pub(crate) const fn new(buf: [u8; MESSAGE_LEN], len: usize) -> Message {
        Message { buf, len }
    }

    /// The message's text.
    pub const fn as_str(&self) -> &str {
        let (used, _) = self.buf.split_at(self.len);
        match core::str::from_utf8(used) {
            Ok(message) => message,
            Err(_) => "a compile-time check of bao::app! failed",
        }
    }
}

/// Appends `s` (cut on a character boundary if the buffer is full).
pub(crate) const fn push(buf: &mut [u8; MESSAGE_LEN], mut n: usize, s: &str) -> usize {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() && n < MESSAGE_LEN {
        if n + 4 > MESSAGE_LEN && bytes[i] >= 0x80 {
            break;
        }
        buf[n] = bytes[i];
        n += 1;
        i += 1;
    }
    n
}

/// Whether `names[i]` is one of the names before it.
pub(crate) const fn repeats_earlier(names: &[&str], i: usize) -> bool {
    let mut j = 0;
    while j < i {
        if str_eq(names[i], names[j]) {
            return true;
        }
        j += 1;
    }
    false
}

/// Whether `values` holds `value` (for compile-time checks of generated code).
pub const fn const_contains(values: &[&str], value: &str) -> bool {
    let mut i = 0;
    while i < values.len() {
        if str_eq(values[i], value) {
            return true;
        }
        i += 1;
    }
    false
}
