//! Runtime pieces behind [`crate::export_plugin!`]: panic catching, the per-thread last
//! error, and conversion between ABI types and Rust types.
//!
//! Plugin authors do not call these directly; they are public so that the macro's
//! expansion in the plugin crate can reach them.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::abi::{
    AbiBufferF32, AbiBufferU8, AbiCallInput, AbiInstance, AbiOwnedStr, AbiStatus, AbiStr,
};
use crate::{CallInput, NativePlugin, PluginError, TensorView};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

fn set_last_error(message: String) {
    LAST_ERROR.with(|slot| *slot.borrow_mut() = message);
}

/// Returns the calling thread's last error as a borrowed string.
pub fn last_error() -> AbiStr {
    LAST_ERROR.with(|slot| {
        let message = slot.borrow();
        // The String stays in the thread-local until the next error on this thread, so
        // the pointer is valid for the documented lifetime.
        AbiStr {
            ptr: message.as_ptr(),
            len: message.len(),
        }
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    }
}

/// Runs `body`, turning an `Err` into [`AbiStatus::Error`] and a panic into
/// [`AbiStatus::Panic`], each with its message stored for `last_error`.
pub fn guard(body: impl FnOnce() -> Result<(), PluginError>) -> AbiStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => AbiStatus::Ok,
        Ok(Err(error)) => {
            set_last_error(error.to_string());
            AbiStatus::Error
        }
        Err(payload) => {
            set_last_error(panic_message(payload.as_ref()));
            AbiStatus::Panic
        }
    }
}

fn into_owned(text: String) -> AbiOwnedStr {
    let mut bytes = std::mem::ManuallyDrop::new(text.into_bytes());
    AbiOwnedStr {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        capacity: bytes.capacity(),
    }
}

/// Frees a string made by this library.
///
/// # Safety
/// `value` must come from `describe` or `call` of this library and be freed only once.
pub unsafe fn free(value: AbiOwnedStr) {
    if !value.ptr.is_null() {
        drop(Vec::from_raw_parts(value.ptr, value.len, value.capacity));
    }
}

fn to_json_string(value: &serde_json::Value) -> Result<String, PluginError> {
    serde_json::to_string(value)
        .map_err(|e| PluginError::Failed(format!("failed to serialise the result: {e}")))
}

/// Implements `describe` for `P`.
///
/// # Safety
/// `out` must be a valid, writable pointer.
pub unsafe fn describe<P: NativePlugin>(out: *mut AbiOwnedStr) -> AbiStatus {
    guard(|| {
        let text = to_json_string(&P::describe())?;
        out.write(into_owned(text));
        Ok(())
    })
}

/// Implements `create` for `P`.
///
/// # Safety
/// `config` must be a valid [`AbiStr`] and `out` a valid, writable pointer.
pub unsafe fn create<P: NativePlugin>(config: AbiStr, out: *mut AbiInstance) -> AbiStatus {
    guard(|| {
        let text = config.as_str().map_err(PluginError::InvalidInput)?;
        let config: serde_json::Value = if text.trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(text).map_err(|e| {
                PluginError::InvalidInput(format!("configuration is not valid JSON: {e}"))
            })?
        };
        let instance = Box::new(P::create(config)?);
        out.write(Box::into_raw(instance).cast());
        Ok(())
    })
}

unsafe fn slice_or_empty<'a, T>(ptr: *const T, len: usize) -> Result<&'a [T], PluginError> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(PluginError::InvalidInput(format!(
            "null buffer pointer with length {len}"
        )));
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

unsafe fn view_u8<'a>(buffer: &AbiBufferU8) -> Result<TensorView<'a, u8>, PluginError> {
    let data = slice_or_empty(buffer.data, buffer.len)?;
    let shape = slice_or_empty(buffer.shape, buffer.ndim)?;
    TensorView::new(data, shape).map_err(|e| PluginError::InvalidInput(e.to_string()))
}

unsafe fn view_f32<'a>(buffer: &AbiBufferF32) -> Result<TensorView<'a, f32>, PluginError> {
    let data = slice_or_empty(buffer.data, buffer.len)?;
    let shape = slice_or_empty(buffer.shape, buffer.ndim)?;
    TensorView::new(data, shape).map_err(|e| PluginError::InvalidInput(e.to_string()))
}

/// Implements `call` for `P`.
///
/// # Safety
/// `instance` must come from `create` of this library and not be destroyed yet. `input`
/// must point to a valid [`AbiCallInput`] whose buffers live for the call, and `out`
/// must be writable.
pub unsafe fn call<P: NativePlugin>(
    instance: AbiInstance,
    input: *const AbiCallInput,
    out: *mut AbiOwnedStr,
) -> AbiStatus {
    guard(|| {
        if instance.is_null() || input.is_null() {
            return Err(PluginError::InvalidInput(
                "null instance or input pointer".to_string(),
            ));
        }
        let plugin = &mut *instance.cast::<P>();
        let input = &*input;
        let text = input.json.as_str().map_err(PluginError::InvalidInput)?;
        let json = serde_json::from_str(text)
            .map_err(|e| PluginError::InvalidInput(format!("call input is not valid JSON: {e}")))?;
        let bytes = slice_or_empty(input.bytes, input.bytes_len)?
            .iter()
            .map(|b| view_u8(b))
            .collect::<Result<Vec<_>, _>>()?;
        let floats = slice_or_empty(input.floats, input.floats_len)?
            .iter()
            .map(|b| view_f32(b))
            .collect::<Result<Vec<_>, _>>()?;
        let result = plugin.call(CallInput {
            json,
            bytes,
            floats,
        })?;
        out.write(into_owned(to_json_string(&result)?));
        Ok(())
    })
}

/// Implements `destroy` for `P`.
///
/// # Safety
/// `instance` must come from `create` of this library and be destroyed only once.
pub unsafe fn destroy<P: NativePlugin>(instance: AbiInstance) {
    // A panic in `Drop` must not unwind into the host, so it is caught and dropped.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if !instance.is_null() {
            drop(Box::from_raw(instance.cast::<P>()));
        }
    }));
}

/// Exports a [`NativePlugin`] implementation through the versioned C ABI.
///
/// Use it once per cdylib crate: `assay_plugin_sdk::export_plugin!(MyReward);`. It
/// defines the `assay_plugin_entry` symbol and a static [`crate::abi::PluginTable`];
/// every entry runs inside `catch_unwind`, so a panic becomes [`AbiStatus::Panic`] with
/// its message instead of aborting the host.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            use $crate::abi as __abi;

            unsafe extern "C" fn __describe(out: *mut __abi::AbiOwnedStr) -> __abi::AbiStatus {
                $crate::export::describe::<$plugin>(out)
            }
            unsafe extern "C" fn __create(
                config: __abi::AbiStr,
                out: *mut __abi::AbiInstance,
            ) -> __abi::AbiStatus {
                $crate::export::create::<$plugin>(config, out)
            }
            unsafe extern "C" fn __call(
                instance: __abi::AbiInstance,
                input: *const __abi::AbiCallInput,
                out: *mut __abi::AbiOwnedStr,
            ) -> __abi::AbiStatus {
                $crate::export::call::<$plugin>(instance, input, out)
            }
            unsafe extern "C" fn __last_error() -> __abi::AbiStr {
                $crate::export::last_error()
            }
            unsafe extern "C" fn __free(value: __abi::AbiOwnedStr) {
                $crate::export::free(value)
            }
            unsafe extern "C" fn __destroy(instance: __abi::AbiInstance) {
                $crate::export::destroy::<$plugin>(instance)
            }

            static __TABLE: __abi::PluginTable = __abi::PluginTable {
                abi_major: __abi::ABI_MAJOR,
                abi_minor: __abi::ABI_MINOR,
                struct_size: ::std::mem::size_of::<__abi::PluginTable>(),
                kind: __abi::AbiStr::from_static(
                    <$plugin as $crate::NativePlugin>::KIND.as_str(),
                ),
                name: __abi::AbiStr::from_static(<$plugin as $crate::NativePlugin>::NAME),
                version: __abi::AbiStr::from_static(<$plugin as $crate::NativePlugin>::VERSION),
                describe: __describe,
                create: __create,
                call: __call,
                last_error: __last_error,
                free: __free,
                destroy: __destroy,
            };

            #[unsafe(no_mangle)]
            pub extern "C" fn assay_plugin_entry() -> *const __abi::PluginTable {
                &__TABLE
            }
        };
    };
}
