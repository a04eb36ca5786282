//! Native plugins: shared libraries that export the versioned C ABI of
//! `assay-plugin-sdk`.
//!
//! Native plugins run inside the engine's process with the host's privileges; nothing
//! sandboxes them. Libraries are never unloaded.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use assay_plugin_sdk::abi::{
    AbiBufferF32, AbiBufferU8, AbiCallInput, AbiInstance, AbiOwnedStr, AbiStatus, AbiStr,
    EntryFn, PluginTable, ABI_MAJOR, ABI_MINOR, ENTRY_SYMBOL,
};
use assay_plugin_sdk::{PluginError, PluginKind, Reward, RewardInput, RewardOutput};
use serde_json::Value;

use crate::hash::sha256_file;

/// Failure to load or call a native plugin.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error("native plugin `{path}` not found; check the path in the spec's `plugins` section")]
    NotFound { path: PathBuf },
    #[error("failed to read `{path}`: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("`{path}` is not a loadable shared library: {reason}")]
    NotALibrary { path: PathBuf, reason: String },
    #[error(
        "`{path}` does not export the symbol `{symbol}`; build the plugin as a cdylib with \
         `assay_plugin_sdk::export_plugin!`"
    )]
    MissingSymbol { path: PathBuf, symbol: String },
    #[error(
        "`{path}` uses plugin ABI {found_major}.{found_minor} but this host supports ABI \
         {host_major}.{host_minor}; rebuild the plugin against an assay-plugin-sdk with ABI \
         {host_major}.x"
    )]
    AbiMismatch {
        path: PathBuf,
        found_major: u32,
        found_minor: u32,
        host_major: u32,
        host_minor: u32,
    },
    #[error("`{path}` exports an invalid plugin table: {reason}")]
    InvalidTable { path: PathBuf, reason: String },
    #[error("plugin `{plugin}` returned an error: {message}")]
    Plugin { plugin: String, message: String },
    #[error("plugin `{plugin}` panicked: {message}")]
    Panic { plugin: String, message: String },
    #[error("plugin `{plugin}` returned output that is not valid JSON: {reason}")]
    InvalidOutput { plugin: String, reason: String },
}

/// The fields every ABI version keeps at the start of [`PluginTable`], read before
/// anything else so that a library built for another major version is rejected
/// without touching fields whose layout may differ.
#[repr(C)]
struct TableHeader {
    abi_major: u32,
    abi_minor: u32,
    struct_size: usize,
}

/// A loaded native plugin library: its identity and its ABI table.
#[derive(Clone)]
pub struct NativePlugin {
    path: PathBuf,
    sha256: String,
    kind: PluginKind,
    name: String,
    version: String,
    abi_minor: u32,
    table: &'static PluginTable,
}

impl std::fmt::Debug for NativePlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativePlugin")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("version", &self.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

impl NativePlugin {
    /// Loads the library at `path`, checks its ABI version before calling anything
    /// else in it, and reads its kind, name and version.
    ///
    /// The library stays loaded for the rest of the process, even when this function
    /// returns an error after opening it, because unloading code that may still be
    /// referenced is unsound.
    ///
    /// # Errors
    /// [`NativeError::NotFound`], [`NativeError::NotALibrary`],
    /// [`NativeError::MissingSymbol`], [`NativeError::AbiMismatch`] (naming both
    /// versions) or [`NativeError::InvalidTable`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NativeError> {
        let path = path.as_ref().to_path_buf();
        if !path.is_file() {
            return Err(NativeError::NotFound { path });
        }
        let sha256 = sha256_file(&path).map_err(|source| NativeError::Io {
            path: path.clone(),
            source,
        })?;

        // SAFETY: loading a library runs its initialisers; native plugins are trusted
        // code by design (see the crate documentation).
        let library = unsafe { libloading::Library::new(&path) }.map_err(|e| {
            NativeError::NotALibrary {
                path: path.clone(),
                reason: e.to_string(),
            }
        })?;
        // Never unload: the table and strings point into the library.
        let library: &'static libloading::Library = Box::leak(Box::new(library));

        let symbol_name = String::from_utf8_lossy(&ENTRY_SYMBOL[..ENTRY_SYMBOL.len() - 1]).to_string();
        // SAFETY: the symbol's type is fixed by the ABI; a library exporting the name
        // with another type violates the ABI contract.
        let entry: libloading::Symbol<'static, EntryFn> = unsafe { library.get(ENTRY_SYMBOL) }
            .map_err(|_| NativeError::MissingSymbol {
                path: path.clone(),
                symbol: symbol_name,
            })?;
        // SAFETY: the entry function takes no arguments and returns a static pointer.
        let table = unsafe { entry() };
        // SAFETY: `table` comes from the entry function, which returns a pointer to a
        // static table or null.
        unsafe { Self::from_table(path, sha256, table) }
    }

    /// Validates a table returned by an entry function.
    ///
    /// # Safety
    /// `table` must be null or point to memory that starts with a readable
    /// [`TableHeader`] and lives for the rest of the process.
    unsafe fn from_table(
        path: PathBuf,
        sha256: String,
        table: *const PluginTable,
    ) -> Result<Self, NativeError> {
        if table.is_null() {
            return Err(NativeError::InvalidTable {
                path,
                reason: "the entry function returned a null table".to_string(),
            });
        }

        // Check the header first: fields after it may be laid out differently in
        // another major version.
        let header = &*table.cast::<TableHeader>();
        if header.abi_major != ABI_MAJOR {
            return Err(NativeError::AbiMismatch {
                path,
                found_major: header.abi_major,
                found_minor: header.abi_minor,
                host_major: ABI_MAJOR,
                host_minor: ABI_MINOR,
            });
        }
        if header.struct_size < std::mem::size_of::<PluginTable>() {
            return Err(NativeError::InvalidTable {
                path,
                reason: format!(
                    "`struct_size` is {} bytes but ABI {ABI_MAJOR}.{ABI_MINOR} needs at least {}",
                    header.struct_size,
                    std::mem::size_of::<PluginTable>()
                ),
            });
        }

        let table: &'static PluginTable = &*table;
        let read = |field: &str, value: AbiStr| {
            value.as_str().map(str::to_string).map_err(|reason| NativeError::InvalidTable {
                path: path.clone(),
                reason: format!("`{field}`: {reason}"),
            })
        };
        let kind_name = read("kind", table.kind)?;
        let name = read("name", table.name)?;
        let version = read("version", table.version)?;
        let kind = PluginKind::parse(&kind_name).map_err(|reason| NativeError::InvalidTable {
            path: path.clone(),
            reason,
        })?;
        if name.is_empty() {
            return Err(NativeError::InvalidTable {
                path,
                reason: "the plugin name is empty".to_string(),
            });
        }
        tracing::info!(path = %path.display(), %name, %version, kind = kind.as_str(), %sha256, "loaded native plugin");
        Ok(Self {
            path,
            sha256,
            kind,
            name,
            version,
            abi_minor: header.abi_minor,
            table,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lowercase hex SHA-256 of the library file, for run manifests and cache keys.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// The library's ABI minor version (its major version equals the host's).
    pub fn abi_minor(&self) -> u32 {
        self.abi_minor
    }

    /// Turns a non-OK status into an error carrying the plugin's last error message.
    fn status_error(&self, status: AbiStatus) -> NativeError {
        // SAFETY: `last_error` returns a string that stays valid until the next call
        // on this thread, and it is copied out at once.
        let message = unsafe { (self.table.last_error)().as_str().map(str::to_string) }
            .unwrap_or_else(|e| format!("(unreadable error message: {e})"));
        let plugin = self.name.clone();
        if status == AbiStatus::Panic {
            NativeError::Panic { plugin, message }
        } else {
            NativeError::Plugin { plugin, message }
        }
    }

    /// Copies and frees a string the plugin returned, then parses it as JSON.
    fn take_json(&self, owned: AbiOwnedStr) -> Result<Value, NativeError> {
        // SAFETY: `owned` was just returned by this library's `describe` or `call` and is
        // freed exactly once below, after the bytes are copied.
        let text = unsafe {
            AbiStr {
                ptr: owned.ptr,
                len: owned.len,
            }
            .as_str()
            .map(str::to_string)
        };
        unsafe { (self.table.free)(owned) };
        let text = text.map_err(|reason| NativeError::InvalidOutput {
            plugin: self.name.clone(),
            reason,
        })?;
        serde_json::from_str(&text).map_err(|e| NativeError::InvalidOutput {
            plugin: self.name.clone(),
            reason: e.to_string(),
        })
    }

    /// Returns the plugin's description: a JSON object with at least `schema`, the JSON
    /// Schema of its configuration.
    ///
    /// # Errors
    /// [`NativeError::Plugin`], [`NativeError::Panic`] or [`NativeError::InvalidOutput`].
    pub fn describe(&self) -> Result<Value, NativeError> {
        let mut out = AbiOwnedStr::empty();
        // SAFETY: `out` is a valid out-parameter; the table was validated on load.
        let status = unsafe { (self.table.describe)(&mut out) };
        if status != AbiStatus::Ok {
            return Err(self.status_error(status));
        }
        self.take_json(out)
    }

    /// Creates an instance from a JSON configuration.
    ///
    /// # Errors
    /// [`NativeError::Plugin`] for a configuration the plugin rejects, or
    /// [`NativeError::Panic`].
    pub fn create(&self, config: &Value) -> Result<NativeInstance, NativeError> {
        let text = config.to_string();
        let mut instance: AbiInstance = std::ptr::null_mut();
        // SAFETY: `text` outlives the call and `instance` is a valid out-parameter.
        let status = unsafe { (self.table.create)(AbiStr::from_str(&text), &mut instance) };
        if status != AbiStatus::Ok {
            return Err(self.status_error(status));
        }
        if instance.is_null() {
            return Err(NativeError::Plugin {
                plugin: self.name.clone(),
                message: "`create` reported success but returned a null instance".to_string(),
            });
        }
        Ok(NativeInstance {
            plugin: self.clone(),
            instance,
        })
    }
}

/// A borrowed row-major buffer and its shape, passed to [`NativeInstance::call`].
#[derive(Debug, Clone, Copy)]
pub struct Buffer<'a, T> {
    pub data: &'a [T],
    pub shape: &'a [usize],
}

/// One instance of a native plugin. Dropping it calls the plugin's `destroy`.
pub struct NativeInstance {
    plugin: NativePlugin,
    instance: AbiInstance,
}

// SAFETY: `NativePlugin` implementations are `Send` (the SDK trait requires it), and an
// instance is only used through `&mut self`, one call at a time.
unsafe impl Send for NativeInstance {}

impl std::fmt::Debug for NativeInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeInstance").field("plugin", &self.plugin.name).finish()
    }
}

impl NativeInstance {
    pub fn plugin(&self) -> &NativePlugin {
        &self.plugin
    }

    /// Calls the plugin with a JSON document and borrowed byte and `f32` buffers.
    ///
    /// # Errors
    /// [`NativeError::Plugin`], [`NativeError::Panic`] or [`NativeError::InvalidOutput`].
    pub fn call(
        &mut self,
        json: &Value,
        bytes: &[Buffer<'_, u8>],
        floats: &[Buffer<'_, f32>],
    ) -> Result<Value, NativeError> {
        let text = json.to_string();
        let byte_buffers: Vec<AbiBufferU8> = bytes
            .iter()
            .map(|b| AbiBufferU8 {
                data: b.data.as_ptr(),
                len: b.data.len(),
                shape: b.shape.as_ptr(),
                ndim: b.shape.len(),
            })
            .collect();
        let float_buffers: Vec<AbiBufferF32> = floats
            .iter()
            .map(|b| AbiBufferF32 {
                data: b.data.as_ptr(),
                len: b.data.len(),
                shape: b.shape.as_ptr(),
                ndim: b.shape.len(),
            })
            .collect();
        let input = AbiCallInput {
            json: AbiStr::from_str(&text),
            bytes: byte_buffers.as_ptr(),
            bytes_len: byte_buffers.len(),
            floats: float_buffers.as_ptr(),
            floats_len: float_buffers.len(),
        };
        let mut out = AbiOwnedStr::empty();
        // SAFETY: every pointer in `input` borrows data that outlives the call, and the
        // instance came from this plugin's `create`.
        let status = unsafe { (self.plugin.table.call)(self.instance, &input, &mut out) };
        if status != AbiStatus::Ok {
            return Err(self.plugin.status_error(status));
        }
        self.plugin.take_json(out)
    }
}

impl Drop for NativeInstance {
    fn drop(&mut self) {
        // SAFETY: the instance came from `create` and is destroyed once, here.
        unsafe { (self.plugin.table.destroy)(self.instance) };
    }
}

/// A native reward plugin seen through the SDK's [`Reward`] trait. Calls are
/// serialised by a mutex because a plugin instance is not required to be `Sync`.
#[derive(Debug)]
pub struct NativeReward {
    name: String,
    instance: Mutex<NativeInstance>,
}

impl NativeReward {
    /// Creates a reward instance from a loaded plugin of kind `reward`.
    ///
    /// # Errors
    /// [`NativeError::InvalidTable`] when the plugin is of another kind, or the
    /// plugin's `create` error.
    pub fn new(plugin: &NativePlugin, config: &Value) -> Result<Self, NativeError> {
        if plugin.kind() != PluginKind::Reward {
            return Err(NativeError::InvalidTable {
                path: plugin.path().to_path_buf(),
                reason: format!(
                    "plugin `{}` is a {} plugin, not a reward",
                    plugin.name(),
                    plugin.kind().as_str()
                ),
            });
        }
        Ok(Self {
            name: plugin.name().to_string(),
            instance: Mutex::new(plugin.create(config)?),
        })
    }
}

impl Reward for NativeReward {
    fn name(&self) -> &str {
        &self.name
    }

    fn score(&self, input: &RewardInput) -> Result<RewardOutput, PluginError> {
        let request = serde_json::to_value(input)
            .map_err(|e| PluginError::Failed(format!("failed to serialise the reward input: {e}")))?;
        // A poisoned lock only means another caller panicked on the host side; the
        // plugin instance itself is unaffected.
        let mut instance = self.instance.lock().unwrap_or_else(|e| e.into_inner());
        let output = instance.call(&request, &[], &[]).map_err(|e| match e {
            NativeError::Panic { message, .. } => PluginError::Panicked(message),
            other => PluginError::Failed(other.to_string()),
        })?;
        serde_json::from_value(output).map_err(|e| {
            PluginError::Failed(format!("reward `{}` returned an invalid result: {e}", self.name))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_table(abi_major: u32, struct_size: usize) -> &'static PluginTable {
        unsafe extern "C" fn describe(_: *mut AbiOwnedStr) -> AbiStatus {
            AbiStatus::Error
        }
        unsafe extern "C" fn create(_: AbiStr, _: *mut AbiInstance) -> AbiStatus {
            AbiStatus::Error
        }
        unsafe extern "C" fn call(_: AbiInstance, _: *const AbiCallInput, _: *mut AbiOwnedStr) -> AbiStatus {
            AbiStatus::Error
        }
        unsafe extern "C" fn last_error() -> AbiStr {
            AbiStr::from_static("fake")
        }
        unsafe extern "C" fn free(_: AbiOwnedStr) {}
        unsafe extern "C" fn destroy(_: AbiInstance) {}
        Box::leak(Box::new(PluginTable {
            abi_major,
            abi_minor: 7,
            struct_size,
            kind: AbiStr::from_static("metric"),
            name: AbiStr::from_static("fake"),
            version: AbiStr::from_static("1.0.0"),
            describe,
            create,
            call,
            last_error,
            free,
            destroy,
        }))
    }

    #[test]
    fn other_major_version_is_rejected_naming_both() {
        let table = fake_table(ABI_MAJOR + 1, std::mem::size_of::<PluginTable>());
        let err = unsafe { NativePlugin::from_table("fake.so".into(), String::new(), table) }.unwrap_err();
        assert!(matches!(err, NativeError::AbiMismatch { found_major, .. } if found_major == ABI_MAJOR + 1));
        let message = err.to_string();
        assert!(message.contains(&format!("ABI {}.7", ABI_MAJOR + 1)), "{message}");
        assert!(message.contains(&format!("ABI {ABI_MAJOR}.{ABI_MINOR}")), "{message}");
    }

    #[test]
    fn newer_minor_version_is_accepted() {
        let table = fake_table(ABI_MAJOR, std::mem::size_of::<PluginTable>() + 16);
        let plugin = unsafe { NativePlugin::from_table("fake.so".into(), String::new(), table) }.unwrap();
        assert_eq!(plugin.abi_minor(), 7);
        assert_eq!(plugin.kind(), PluginKind::Metric);
    }

    #[test]
    fn truncated_table_is_rejected() {
        let table = fake_table(ABI_MAJOR, 16);
        let err = unsafe { NativePlugin::from_table("fake.so".into(), String::new(), table) }.unwrap_err();
        assert!(err.to_string().contains("`struct_size` is 16 bytes"), "{err}");
    }

    #[test]
    fn null_table_is_rejected() {
        let err = unsafe { NativePlugin::from_table("fake.so".into(), String::new(), std::ptr::null()) }
            .unwrap_err();
        assert!(matches!(err, NativeError::InvalidTable { .. }));
    }
}
