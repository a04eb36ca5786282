//! The versioned C ABI between the host and a native plugin library.
//!
//! A library exports one symbol, [`ENTRY_SYMBOL`], a function that returns a pointer to a
//! static [`PluginTable`]. The table starts with a fixed header (`abi_major`, `abi_minor`,
//! `struct_size`) that every ABI version keeps, so the host reads the header and rejects a
//! library with another major version before it touches any other field or calls any
//! plugin function. A minor version may only append fields, and `struct_size` shows the host
//! which fields exist.
//!
//! Data crosses as UTF-8 JSON ([`AbiStr`]) plus borrowed byte and `f32` buffers with
//! shape descriptors ([`AbiBufferU8`], [`AbiBufferF32`]). Strings the plugin allocates
//! ([`AbiOwnedStr`]) go back to the plugin's `free` function, because host and plugin may
//! use different allocators.
//!
//! Every function returns an [`AbiStatus`]; after [`AbiStatus::Error`] or
//! [`AbiStatus::Panic`] the host reads the message with `last_error`, which is stored per
//! thread and stays valid until the next call on that thread.

use std::ffi::c_void;

/// Major ABI version: the host rejects a library whose major version differs.
pub const ABI_MAJOR: u32 = 1;
/// Minor ABI version: a library with a newer minor version still loads.
pub const ABI_MINOR: u32 = 0;
/// Name of the exported entry function, NUL-terminated for `dlsym`.
pub const ENTRY_SYMBOL: &[u8] = b"assay_plugin_entry\0";

/// Signature of the exported entry function.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

/// A borrowed UTF-8 string: `len` bytes at `ptr`, not NUL-terminated.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiStr {
    pub ptr: *const u8,
    pub len: usize,
}

impl AbiStr {
    /// Borrows `s` for the duration of one call.
    pub fn from_str(s: &str) -> Self {
        Self {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// Wraps a string constant, for the static table.
    pub const fn from_static(s: &'static str) -> Self {
        Self {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    /// Reads the string back.
    ///
    /// # Safety
    /// `ptr` must point to `len` readable bytes that live for `'a`, or be null with
    /// `len == 0`.
    ///
    /// # Errors
    /// Returns a message when the bytes are not UTF-8.
    pub unsafe fn as_str<'a>(&self) -> Result<&'a str, String> {
        if self.len == 0 {
            return Ok("");
        }
        if self.ptr.is_null() {
            return Err(format!("null string pointer with length {}", self.len));
        }
        let bytes = std::slice::from_raw_parts(self.ptr, self.len);
        std::str::from_utf8(bytes).map_err(|e| format!("string is not valid UTF-8: {e}"))
    }
}

/// A string allocated by the plugin and handed to the host, which must pass it back to
/// the table's `free` function exactly once.
#[repr(C)]
#[derive(Debug)]
pub struct AbiOwnedStr {
    pub ptr: *mut u8,
    pub len: usize,
    /// Allocation capacity, needed to rebuild the plugin's `Vec<u8>` when freeing.
    pub capacity: usize,
}

impl AbiOwnedStr {
    /// Returns an empty value for out-parameters.
    pub const fn empty() -> Self {
        Self {
            ptr: std::ptr::null_mut(),
            len: 0,
            capacity: 0,
        }
    }
}

/// A borrowed row-major byte buffer with its shape, e.g. an image as
/// `(height, width, channels)`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiBufferU8 {
    pub data: *const u8,
    pub len: usize,
    pub shape: *const usize,
    pub ndim: usize,
}

/// A borrowed row-major `f32` buffer with its shape, e.g. logits as `(batch, classes)`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiBufferF32 {
    pub data: *const f32,
    pub len: usize,
    pub shape: *const usize,
    pub ndim: usize,
}

/// The arguments of one `call`: a JSON document and any number of borrowed buffers, all
/// valid only for the duration of the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AbiCallInput {
    pub json: AbiStr,
    pub bytes: *const AbiBufferU8,
    pub bytes_len: usize,
    pub floats: *const AbiBufferF32,
    pub floats_len: usize,
}

/// Result code of every ABI function.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiStatus {
    Ok = 0,
    /// The plugin returned an error; read it with `last_error`.
    Error = 1,
    /// The plugin panicked and the panic was caught; read it with `last_error`.
    Panic = 2,
}

/// An opaque plugin instance created by `create` and released by `destroy`.
pub type AbiInstance = *mut c_void;

/// The table a native plugin library exports through [`ENTRY_SYMBOL`].
///
/// The first three fields are the header that every ABI version keeps in place.
#[repr(C)]
pub struct PluginTable {
    /// Must equal the host's [`ABI_MAJOR`].
    pub abi_major: u32,
    /// The library's [`ABI_MINOR`]; the host accepts any minor version.
    pub abi_minor: u32,
    /// `size_of::<PluginTable>()` as the library was compiled.
    pub struct_size: usize,
    /// Plugin kind, one of the names of [`crate::PluginKind`] (e.g. `"reward"`).
    pub kind: AbiStr,
    /// Plugin name, e.g. `"actfer_accuracy"`.
    pub name: AbiStr,
    /// Plugin version, semantic versioning.
    pub version: AbiStr,
    /// Writes a JSON description (`{"schema": ..., "description": ...}`) to `out`.
    pub describe: unsafe extern "C" fn(out: *mut AbiOwnedStr) -> AbiStatus,
    /// Creates an instance from a JSON configuration.
    pub create: unsafe extern "C" fn(config: AbiStr, out: *mut AbiInstance) -> AbiStatus,
    /// Runs one call on an instance and writes the JSON result to `out`.
    pub call: unsafe extern "C" fn(
        instance: AbiInstance,
        input: *const AbiCallInput,
        out: *mut AbiOwnedStr,
    ) -> AbiStatus,
    /// Returns the last error message of this thread (borrowed, valid until the next call).
    pub last_error: unsafe extern "C" fn() -> AbiStr,
    /// Frees a string that `describe` or `call` returned.
    pub free: unsafe extern "C" fn(value: AbiOwnedStr),
    /// Destroys an instance; the host never uses it again.
    pub destroy: unsafe extern "C" fn(instance: AbiInstance),
}

// SAFETY: the table holds only function pointers and pointers to static strings.
unsafe impl Sync for PluginTable {}
