//! Faces for the `synthesize` stage: rendered by `assay-facegen`, or read from a real
//! dataset in its published layout (RAF-DB basic, AffectNet, FERPlus, SFEW 2.0, DISFA).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use assay_facegen::expression::prototype_action_units;
use assay_facegen::loaders::{self, DatasetSplit, DisfaLayout, LabeledImage};
use assay_facegen::{AuIntensity, Emotion, FaceImage, FaceRegion, FaceSample, Landmarks, PixelBox};
use assay_train::Image;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::spec::DatasetSpec;

/// A real dataset in its published layout, read from a `data:` entry of the spec: the
/// entry's `kind` picks the layout and its `params` give the paths, relative to the spec
/// file's folder. For example `{kind: rafdb, params: {root: /data/RAF-DB/basic}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DatasetSource {
    /// RAF-DB basic emotions: `root` contains `EmoLabel/list_patition_label.txt` and
    /// `Image/aligned/`. The file name prefix (`train_`, `test_`) gives the split.
    Rafdb { root: PathBuf },
    /// AffectNet, manually annotated subset: `root` contains
    /// `Manually_Annotated_file_lists/{training,validation}.csv` and
    /// `Manually_Annotated_Images/`. The validation list is the test split, because
    /// AffectNet's test labels are not public.
    Affectnet { root: PathBuf },
    /// FERPlus: `root` contains `fer2013new.csv` and the folders `FER2013Train/`,
    /// `FER2013Valid/` and `FER2013Test/`. `Training` rows are the train split and
    /// `PrivateTest` rows the test split; the label is the annotators' majority.
    Ferplus { root: PathBuf },
    /// SFEW 2.0: one folder per split, each with one folder per emotion (`Angry`, `Happy`,
    /// ...). `test_dir` is usually the `Val/` folder, because SFEW's test labels are not
    /// public. A split whose folder is not set must have a count of 0.
    Sfew {
        #[serde(default)]
        train_dir: Option<PathBuf>,
        #[serde(default)]
        test_dir: Option<PathBuf>,
    },
    /// DISFA: `labels_dir` is the `ActionUnit_Labels/` folder and `frames_dir` the frames
    /// extracted from its videos. Every labelled frame is a test image, because DISFA is
    /// used for zero-shot AU detection.
    Disfa {
        labels_dir: PathBuf,
        frames_dir: PathBuf,
        /// Frame path inside `frames_dir`, with `{subject}` and `{frame}` replaced.
        /// Default `{subject}/{frame}.png`.
        #[serde(default = "default_frame_template")]
        frame_template: String,
        /// Zero-padding width of `{frame}`. Default 0 (no padding).
        #[serde(default)]
        frame_digits: usize,
    },
}

fn default_frame_template() -> String {
    "{subject}/{frame}.png".to_string()
}

/// The two splits that the `synthesize` stage writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageSplit {
    Train,
    Test,
}

impl StageSplit {
    pub fn name(self) -> &'static str {
        match self {
            StageSplit::Train => "train",
            StageSplit::Test => "test",
        }
    }
}

impl DatasetSource {
    /// Kinds of `data:` entry that the loaders read.
    pub const KINDS: [&'static str; 5] = ["rafdb", "affectnet", "ferplus", "sfew", "disfa"];

    /// Reads the `data:` entry `name`. A single-root dataset (RAF-DB, AffectNet, FERPlus)
    /// may give its root as the entry's `path` instead of `params.root`.
    ///
    /// # Errors
    /// The entry's kind is not one of [`DatasetSource::KINDS`], or its parameters are
    /// missing a path or have an unknown key.
    pub fn from_data_entry(name: &str, entry: &DatasetSpec) -> Result<Self> {
        if !Self::KINDS.contains(&entry.kind.as_str()) {
            bail!(
                "data entry `{name}` has kind `{}`, which is not a dataset layout the `synthesize` stage reads; use one of {}",
                entry.kind,
                Self::KINDS.join(", ")
            );
        }
        let mut fields = match entry.params.as_ref().map(|params| params.to_json()) {
            Some(serde_json::Value::Object(map)) => map,
            None | Some(serde_json::Value::Null) => serde_json::Map::new(),
            Some(other) => bail!("`data.{name}.params` must be a mapping of paths, found {other}"),
        };
        if let (Some(path), false) = (&entry.path, fields.contains_key("root")) {
            fields.insert("root".into(), serde_json::json!(path));
        }
        fields.insert("kind".into(), serde_json::json!(entry.kind));
        serde_json::from_value(serde_json::Value::Object(fields))
            .with_context(|| format!("invalid `data.{name}` for the {} layout", entry.kind))
    }

    /// Dataset name as its authors write it, for messages.
    pub fn dataset_name(&self) -> &'static str {
        match self {
            DatasetSource::Rafdb { .. } => "RAF-DB",
            DatasetSource::Affectnet { .. } => "AffectNet",
            DatasetSource::Ferplus { .. } => "FERPlus",
            DatasetSource::Sfew { .. } => "SFEW 2.0",
            DatasetSource::Disfa { .. } => "DISFA",
        }
    }

    /// Files and folders the loader expects, for messages.
    pub fn expected_layout(&self) -> &'static str {
        match self {
            DatasetSource::Rafdb { .. } => loaders::rafdb::LAYOUT,
            DatasetSource::Affectnet { .. } => loaders::affectnet::LAYOUT,
            DatasetSource::Ferplus { .. } => loaders::ferplus::LAYOUT,
            DatasetSource::Sfew { .. } => loaders::sfew::LAYOUT,
            DatasetSource::Disfa { .. } => loaders::disfa::LAYOUT,
        }
    }

    /// Loads the labelled images of one split, with relative paths resolved by `resolve`.
    /// DISFA has no train split, so it returns no records for [`StageSplit::Train`].
    ///
    /// # Errors
    /// A label file or folder is missing (the message names the dataset and its expected
    /// layout), a label line is invalid, or an SFEW split folder is not set.
    pub fn load(&self, split: StageSplit, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Vec<LabeledImage>> {
        let keep = |records: Vec<LabeledImage>, wanted: DatasetSplit| -> Vec<LabeledImage> {
            records.into_iter().filter(|r| r.split == wanted).collect()
        };
        let records = match (self, split) {
            (DatasetSource::Rafdb { root }, StageSplit::Train) => keep(loaders::load_rafdb(&resolve(root))?, DatasetSplit::Train),
            (DatasetSource::Rafdb { root }, StageSplit::Test) => keep(loaders::load_rafdb(&resolve(root))?, DatasetSplit::Test),
            (DatasetSource::Affectnet { root }, StageSplit::Train) => loaders::load_affectnet(&resolve(root), DatasetSplit::Train)?,
            (DatasetSource::Affectnet { root }, StageSplit::Test) => loaders::load_affectnet(&resolve(root), DatasetSplit::Validation)?,
            (DatasetSource::Ferplus { root }, StageSplit::Train) => keep(loaders::load_ferplus(&resolve(root))?, DatasetSplit::Train),
            (DatasetSource::Ferplus { root }, StageSplit::Test) => keep(loaders::load_ferplus(&resolve(root))?, DatasetSplit::Test),
            (DatasetSource::Sfew { train_dir, test_dir }, _) => {
                let (dir, key, wanted) = match split {
                    StageSplit::Train => (train_dir, "train_dir", DatasetSplit::Train),
                    StageSplit::Test => (test_dir, "test_dir", DatasetSplit::Validation),
                };
                let dir = dir.as_ref().with_context(|| {
                    format!("SFEW 2.0 `source.{key}` is not set but the {} split needs images: set it or make the count 0", split.name())
                })?;
                loaders::load_sfew(&resolve(dir), wanted)?
            }
            (DatasetSource::Disfa { .. }, StageSplit::Train) => Vec::new(),
            (DatasetSource::Disfa { labels_dir, frames_dir, frame_template, frame_digits }, StageSplit::Test) => {
                let mut layout = DisfaLayout::new(resolve(labels_dir), resolve(frames_dir));
                layout.frame_template = frame_template.clone();
                layout.frame_digits = *frame_digits;
                loaders::load_disfa(&layout)?
            }
        };
        Ok(records)
    }

    /// Loads one split and picks `count` of its images whose files exist: all of them when
    /// the split has no more, else a sample without replacement drawn with `seed`, kept in
    /// the label file's order. Missing image files are skipped with a warning, because
    /// real releases lack a few.
    ///
    /// # Errors
    /// Those of [`DatasetSource::load`], and a split in which no listed image exists
    /// (the message names the dataset, the first missing file and the expected layout).
    pub fn select(&self, split: StageSplit, count: u64, seed: u64, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<Vec<LabeledImage>> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let records = self.load(split, resolve)?;
        let listed = records.len();
        let missing = loaders::missing_images(&records);
        let present: Vec<LabeledImage> = records.into_iter().filter(|r| r.image_path.is_file()).collect();
        if let Some(first) = missing.first() {
            if present.is_empty() {
                bail!(
                    "{}: none of the {listed} images listed for the {} split exists (first: {}); expected layout: {}",
                    self.dataset_name(),
                    split.name(),
                    first.display(),
                    self.expected_layout()
                );
            }
            tracing::warn!(dataset = self.dataset_name(), split = split.name(), missing = missing.len(), first = %first.display(), "skipping listed images whose files do not exist");
        }
        if (present.len() as u64) <= count {
            if (present.len() as u64) < count {
                tracing::info!(dataset = self.dataset_name(), split = split.name(), requested = count, available = present.len(), "the split has fewer images than requested; using all of them");
            }
            return Ok(present);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut chosen = rand::seq::index::sample(&mut rng, present.len(), count as usize).into_vec();
        chosen.sort_unstable();
        Ok(chosen.into_iter().map(|i| present[i].clone()).collect())
    }
}

/// A face image with the labels that trajectories and evaluation use, from either the
/// renderer or a real dataset.
#[derive(Debug, Clone)]
pub struct LabeledFace {
    /// Position within its split; part of the sample id.
    pub index: u64,
    /// Channel-first RGB image.
    pub image: Image,
    /// Emotion label; `None` for AU-only data.
    pub emotion: Option<Emotion>,
    /// Action Units with intensity in `0.0..=1.0`.
    pub action_units: Vec<AuIntensity>,
    /// Whether `action_units` comes from the emotion's EMFACS prototype because the dataset
    /// labels only the emotion.
    pub prototype_units: bool,
    pub face_box: Option<PixelBox>,
    pub landmarks: Option<Landmarks>,
    /// Region hidden by an occluder, known only for rendered faces.
    pub occluded_region: Option<FaceRegion>,
    /// File the image was read from; `None` for rendered faces.
    pub source_file: Option<PathBuf>,
}

impl LabeledFace {
    /// Takes a rendered face with its full ground truth.
    ///
    /// # Errors
    /// The image has neither 1 nor 3 channels.
    pub fn from_rendered(face: &FaceSample) -> Result<Self> {
        let truth = &face.truth;
        Ok(Self {
            index: face.index,
            image: rgb_image(&face.image)?,
            emotion: truth.emotion,
            action_units: truth.action_units.clone(),
            prototype_units: false,
            face_box: Some(truth.face_box),
            landmarks: Some(truth.landmarks),
            occluded_region: truth.occluded_region,
            source_file: None,
        })
    }

    /// Reads a real dataset image. When the dataset labels only the emotion, the Action
    /// Units are the core units of that emotion's EMFACS prototype at their typical
    /// intensities.
    ///
    /// # Errors
    /// The image file cannot be read or decoded.
    pub fn from_record(index: u64, record: &LabeledImage) -> Result<Self> {
        let decoded = loaders::read_face_image(&record.image_path)?;
        let prototype_units = record.action_units.is_empty() && record.emotion.is_some();
        // NOTE: prototype units are an approximation. Real faces often show only part of a
        // prototype, so AU F1 on emotion-only datasets measures agreement with EMFACS.
        let action_units = match record.emotion {
            Some(emotion) if prototype_units => prototype_action_units(emotion),
            _ => record.action_units.clone(),
        };
        Ok(Self {
            index,
            image: rgb_image(&decoded)?,
            emotion: record.emotion,
            action_units,
            prototype_units,
            face_box: record.face_box,
            landmarks: None,
            occluded_region: None,
            source_file: Some(record.image_path.clone()),
        })
    }

    /// Action Units at or above `threshold`, in FACS-number order.
    pub fn present_units(&self, threshold: f32) -> Vec<assay_facegen::ActionUnit> {
        let mut units: Vec<_> = self.action_units.iter().filter(|a| a.intensity >= threshold).map(|a| a.au).collect();
        units.sort();
        units.dedup();
        units
    }
}

/// Converts an 8-bit gray or RGB image to a channel-first RGB image.
///
/// # Errors
/// The image has neither 1 nor 3 channels.
pub fn rgb_image(image: &FaceImage) -> Result<Image> {
    let rgb: Vec<u8> = match image.channels {
        1 => image.pixels.iter().flat_map(|&v| [v, v, v]).collect(),
        3 => image.pixels.clone(),
        other => bail!("face image has {other} channels; expected 1 or 3"),
    };
    Image::from_rgb8(image.height as usize, image.width as usize, &rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, path: Option<&str>, params: serde_json::Value) -> DatasetSpec {
        let value = serde_json::json!({"kind": kind, "path": path, "params": params});
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn source_reads_data_entry() {
        let source = DatasetSource::from_data_entry("raf", &entry("rafdb", None, serde_json::json!({"root": "data/raf"}))).unwrap();
        assert_eq!(source, DatasetSource::Rafdb { root: "data/raf".into() });
        let from_path = DatasetSource::from_data_entry("raf", &entry("ferplus", Some("fer"), serde_json::Value::Null)).unwrap();
        assert_eq!(from_path, DatasetSource::Ferplus { root: "fer".into() });
        let disfa = entry("disfa", None, serde_json::json!({"labels_dir": "l", "frames_dir": "f"}));
        let DatasetSource::Disfa { frame_template, frame_digits, .. } = DatasetSource::from_data_entry("d", &disfa).unwrap() else {
            panic!("not DISFA")
        };
        assert_eq!((frame_template.as_str(), frame_digits), ("{subject}/{frame}.png", 0));
    }

    #[test]
    fn source_rejects_unknown_kind_and_keys() {
        let error = DatasetSource::from_data_entry("raf", &entry("rafdb", None, serde_json::json!({"root": "r", "split": "x"}))).unwrap_err();
        assert!(format!("{error:#}").contains("split"), "{error:#}");
        let error = DatasetSource::from_data_entry("ck", &entry("ckplus", None, serde_json::json!({"root": "r"}))).unwrap_err();
        assert!(error.to_string().contains("`ckplus`"), "{error}");
        assert!(error.to_string().contains("rafdb, affectnet"), "{error}");
        let error = DatasetSource::from_data_entry("raf", &entry("rafdb", None, serde_json::Value::Null)).unwrap_err();
        assert!(format!("{error:#}").contains("root"), "{error:#}");
    }

    #[test]
    fn sfew_without_split_folder_is_an_error() {
        let source = DatasetSource::Sfew { train_dir: None, test_dir: None };
        let error = source.select(StageSplit::Test, 3, 0, &|p: &Path| p.to_path_buf()).unwrap_err();
        assert!(error.to_string().contains("test_dir"), "{error}");
        assert!(source.select(StageSplit::Train, 0, 0, &|p: &Path| p.to_path_buf()).unwrap().is_empty());
    }
}
