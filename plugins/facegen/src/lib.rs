//! Synthetic FACS-grounded faces and loaders for real facial expression datasets.
//!
//! The renderer draws a face from an identity (face shape, skin tone, hair), a pose and
//! an expression made of FACS Action Units, then degrades it like a camera would (blur,
//! noise, illumination, occlusion). Every image comes with its ground truth: emotion, AU
//! intensities, face box, landmarks and the four region boxes.
//!
//! ```
//! use assay_facegen::{render, Domain};
//!
//! let config = Domain::Rafdb.config();
//! let sample = render(&config, 7, 0).unwrap();
//! assert_eq!((sample.image.width, sample.image.height, sample.image.channels), (100, 100, 3));
//! assert!(sample.truth.face_box.contains(sample.truth.landmarks.nose_tip));
//! ```

pub mod action_unit;
pub mod degrade;
pub mod domain;
pub mod draw;
pub mod emotion;
pub mod error;
pub mod expression;
pub mod geometry;
pub mod identity;
pub mod loaders;
pub mod render;
pub mod sample;
pub mod split;

pub use action_unit::{ActionUnit, AuIntensity, FaceRegion, Side};
pub use domain::{Domain, DomainConfig, LabelKind, Range};
pub use emotion::{Emotion, EmotionWeights};
pub use error::{FacegenError, Result};
pub use expression::Activation;
pub use loaders::{DatasetSplit, LabeledImage};
pub use render::{generate, render, render_params, sample_params, truth_of, FaceParams};
pub use sample::{
    FaceImage, FaceSample, FaceTruth, Landmarks, PixelBox, Point, Pose, RegionBoxes,
    SequencePosition,
};
pub use split::{read_split, write_split, LabelRecord};
