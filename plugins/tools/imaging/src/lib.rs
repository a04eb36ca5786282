//! Pixel operations shared by the `zoom_in` and `face_align` tools.
//!
//! Plain Rust without dependencies, so the same code runs inside the WebAssembly guests
//! and natively (the host's benchmark compares the two).

pub mod buffer;
pub mod face;
pub mod face_model;
pub mod face_train;
pub mod gray;
pub mod hog;
pub mod pyramid;
pub mod regions;
pub mod resize;
pub mod ridge;
pub mod similarity;
pub mod skin;

pub use buffer::{PixelBox, RgbImage};
pub use face::{align_face, detect_face, AlignedFace, FaceDetection, Landmarks};
pub use regions::{region_box, ALIGNED_SIZE, REGION_NAMES};
pub use resize::{crop_resize, sample_bilinear};
pub use similarity::Similarity;
