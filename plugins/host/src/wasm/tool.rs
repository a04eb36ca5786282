//! A WebAssembly tool: a component compiled once and instantiated per call.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assay_plugin_sdk::{Image, Observation, Tool, ToolCallError, ToolDescription};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, Trap,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::{self, ToolPre};
use super::clock::FrozenWallClock;
use super::{SandboxLimits, WasmLoadError};
use crate::hash::sha256_file;

/// The exported interface, with its version, that this host supports.
pub const INTERFACE_NAME: &str = "assay:tool/guest@1.0.0";
const INTERFACE_PREFIX: &str = "assay:tool/guest@";

/// Guest stderr kept per call, in bytes; writes beyond it fail inside the guest.
const STDERR_CAPACITY: usize = 64 * 1024;
/// Bytes of stderr quoted in a [`ToolCallError::Trapped`].
const STDERR_TAIL: usize = 4 * 1024;
/// Guest folder where [`SandboxLimits::read_only_dir`] is mounted.
const GUEST_DATA_DIR: &str = "/data";

/// Per-call store data: the WASI context and the memory limiter.
struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A sandboxed tool loaded from a `.wasm` component file.
///
/// Each call gets a fresh store instantiated from the pre-instantiated component, so a
/// call that traps, runs out of fuel or memory, or times out leaves nothing behind and
/// the next call starts clean.
pub struct WasmTool {
    path: PathBuf,
    sha256: String,
    engine: Engine,
    pre: ToolPre<CallState>,
    limits: SandboxLimits,
    description: ToolDescription,
    // Keeps the epoch thread alive for as long as the tool exists.
    _ticker: Arc<EpochTicker>,
}

impl std::fmt::Debug for WasmTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasmTool")
            .field("path", &self.path)
            .field("name", &self.description.name)
            .field("version", &self.description.version)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Advances the engine's epoch every [`SandboxLimits::EPOCH_TICK`] until dropped.
struct EpochTicker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("assay-wasm-epoch".to_string())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(SandboxLimits::EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch thread failed");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

fn engine_for(limits: &SandboxLimits) -> Result<Engine, WasmLoadError> {
    let mut pool = PoolingAllocationConfig::default();
    let slots = limits.max_concurrent_calls;
    pool.total_component_instances(slots);
    // A Rust wasip2 component contains a handful of core instances, memories and tables.
    pool.total_core_instances(slots * 16);
    pool.total_memories(slots * 4);
    pool.total_tables(slots * 16);
    pool.max_memory_size(limits.memory_bytes as usize);
    // Keeping the first pages resident makes a fresh instance cheap: most per-call cost
    // is otherwise the kernel faulting in zeroed pages for the input image.
    pool.linear_memory_keep_resident(2 << 20);
    pool.table_keep_resident(64 << 10);
    // Zero only the pages a call touched, found with the `PAGEMAP_SCAN` ioctl of Linux
    // 6.7 and later. Without the ioctl, wasmtime memsets the whole resident region as
    // before, so memory is zeroed either way.
    pool.pagemap_scan(Enabled::Auto);

    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| WasmLoadError::Engine(format!("{e:#}")))
}

/// Checks the component's exports for [`INTERFACE_NAME`] without instantiating it.
fn check_interface(engine: &Engine, component: &Component, path: &Path) -> Result<(), WasmLoadError> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    if exports.iter().any(|name| name == INTERFACE_NAME) {
        return Ok(());
    }
    if let Some(found) = exports.iter().find(|name| name.starts_with(INTERFACE_PREFIX)) {
        return Err(WasmLoadError::WrongInterfaceVersion {
            path: path.to_path_buf(),
            found: found.clone(),
            expected: INTERFACE_NAME.to_string(),
        });
    }
    Err(WasmLoadError::MissingInterface {
        path: path.to_path_buf(),
        expected: INTERFACE_NAME.to_string(),
        exports: if exports.is_empty() {
            "(none)".to_string()
        } else {
            exports.join(", ")
        },
    })
}

/// Returns the last [`STDERR_TAIL`] bytes of the guest's stderr as text.
fn stderr_tail(pipe: &MemoryOutputPipe) -> String {
    let bytes = pipe.contents();
    let start = bytes.len().saturating_sub(STDERR_TAIL);
    String::from_utf8_lossy(&bytes[start..]).trim_end().to_string()
}

impl WasmTool {
    /// Compiles the component at `path`, checks that it exports
    /// [`INTERFACE_NAME`] before instantiating anything, links WASI, and calls
    /// `describe` once to read the tool's name, version and argument schema.
    ///
    /// # Errors
    /// A [`WasmLoadError`] naming the file; a wrong interface version names both
    /// versions.
    pub fn load(path: impl AsRef<Path>, limits: SandboxLimits) -> Result<Self, WasmLoadError> {
        let path = path.as_ref().to_path_buf();
        limits.validate().map_err(WasmLoadError::InvalidLimits)?;
        if !path.is_file() {
            return Err(WasmLoadError::NotFound { path });
        }
        let sha256 = sha256_file(&path).map_err(|e| WasmLoadError::NotAComponent {
            path: path.clone(),
            reason: e.to_string(),
        })?;

        // Compile, then check the interface version before instantiation.
        let engine = engine_for(&limits)?;
        let component = Component::from_file(&engine, &path).map_err(|e| WasmLoadError::NotAComponent {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;
        check_interface(&engine, &component, &path)?;

        // Link WASI p2 (Rust's std on wasip2 imports it even for pure computation) and
        // resolve every import now, so that each call only instantiates.
        let mut linker = Linker::<CallState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| WasmLoadError::Link {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;
        let instance_pre = linker.instantiate_pre(&component).map_err(|e| WasmLoadError::Link {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;
        let pre = ToolPre::new(instance_pre).map_err(|e| WasmLoadError::Link {
            path: path.clone(),
            reason: format!("{e:#}"),
        })?;

        let ticker = Arc::new(EpochTicker::start(&engine));
        let mut tool = Self {
            path: path.clone(),
            sha256,
            engine,
            pre,
            limits,
            description: ToolDescription {
                name: String::new(),
                version: String::new(),
                parameters_schema: serde_json::Value::Null,
            },
            _ticker: ticker,
        };

        let description = tool
            .call(|store, guest| guest.assay_tool_guest().call_describe(store).map(Ok))
            .map_err(|source| WasmLoadError::Describe {
                path: path.clone(),
                source,
            })?;
        let parameters_schema = serde_json::from_str(&description.parameters_schema).map_err(|e| {
            WasmLoadError::Describe {
                path: path.clone(),
                source: ToolCallError::ToolError(format!("`parameters-schema` is not valid JSON: {e}")),
            }
        })?;
        tool.description = ToolDescription {
            name: description.name,
            version: description.version,
            parameters_schema,
        };
        tracing::info!(path = %path.display(), name = %tool.description.name, version = %tool.description.version, sha256 = %tool.sha256, "loaded WebAssembly tool");
        Ok(tool)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Lowercase hex SHA-256 of the component file, for run manifests and cache keys.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.limits
    }

    /// The name, version and argument schema the tool reported when it was loaded.
    pub fn describe(&self) -> ToolDescription {
        self.description.clone()
    }

    /// Calls the tool with JSON arguments and an optional input image.
    ///
    /// # Errors
    /// [`ToolCallError::ToolError`] when the tool rejects the call (its message) or
    /// returns an invalid image; [`ToolCallError::OutOfFuel`],
    /// [`ToolCallError::TimedOut`], [`ToolCallError::OutOfMemory`] or
    /// [`ToolCallError::Trapped`] (with the tail of the guest's stderr) otherwise.
    pub fn invoke(&self, args: &str, image: Option<&Image>) -> Result<Observation, ToolCallError> {
        let image = image.map(|i| bindings::Image {
            width: i.width,
            height: i.height,
            channels: i.channels,
            pixels: i.pixels.clone(),
        });
        let observation = self.call(|store, guest| {
            guest
                .assay_tool_guest()
                .call_invoke(store, args, image.as_ref())
                .map(|result| result.map_err(ToolCallError::ToolError))
        })?;
        let images = observation
            .images
            .into_iter()
            .map(|i| {
                Image::new(i.width, i.height, i.channels, i.pixels)
                    .map_err(|e| ToolCallError::ToolError(format!("the tool returned an invalid image: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Observation {
            text: observation.text,
            images,
        })
    }

    /// Runs `body` in a fresh sandboxed store and maps every failure to one
    /// [`ToolCallError`]. `body` returns the guest's own `Result` inside wasmtime's.
    fn call<R>(
        &self,
        body: impl FnOnce(&mut Store<CallState>, &bindings::Tool) -> wasmtime::Result<Result<R, ToolCallError>>,
    ) -> Result<R, ToolCallError> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let mut store = self.new_store(stderr.clone())?;
        let outcome = self
            .pre
            .instantiate(&mut store)
            .and_then(|guest| body(&mut store, &guest));
        match outcome {
            Ok(result) => result,
            Err(error) => Err(self.map_error(error, &stderr)),
        }
    }

    fn new_store(&self, stderr: MemoryOutputPipe) -> Result<Store<CallState>, ToolCallError> {
        // No environment, arguments, network or preopens unless a folder is granted;
        // the wall clock is frozen and only the monotonic clock advances.
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenWallClock);
        if let Some(dir) = &self.limits.read_only_dir {
            wasi.preopened_dir(dir, GUEST_DATA_DIR, FsPerms::ReadOnly)
                .map_err(|e| {
                    ToolCallError::ToolError(format!(
                        "failed to open the read-only folder `{}`: {e:#}",
                        dir.display()
                    ))
                })?;
        }
        let state = CallState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.limits.memory_bytes as usize)
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| ToolCallError::Trapped {
                message: format!("failed to set fuel: {e:#}"),
                stderr_tail: String::new(),
            })?;
        store.set_epoch_deadline(self.limits.deadline_ticks());
        Ok(store)
    }

    fn map_error(&self, error: wasmtime::Error, stderr: &MemoryOutputPipe) -> ToolCallError {
        let message = format!("{error:#}");
        let mapped = match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => ToolCallError::OutOfFuel {
                fuel: self.limits.fuel,
            },
            Some(Trap::Interrupt) => ToolCallError::TimedOut {
                timeout_ms: self.limits.timeout.as_millis() as u64,
            },
            // The store limiter reports a refused memory growth as a plain error,
            // not as a trap value.
            _ if message.contains("forcing trap when growing memory") => ToolCallError::OutOfMemory {
                limit_bytes: self.limits.memory_bytes,
            },
            _ => ToolCallError::Trapped {
                message,
                stderr_tail: stderr_tail(stderr),
            },
        };
        tracing::warn!(tool = %self.description.name, error = %mapped, "WebAssembly tool call failed");
        mapped
    }
}

impl Tool for WasmTool {
    fn describe(&self) -> ToolDescription {
        WasmTool::describe(self)
    }

    fn invoke(&self, args: &serde_json::Value, image: Option<&Image>) -> Result<Observation, ToolCallError> {
        WasmTool::invoke(self, &args.to_string(), image)
    }
}
