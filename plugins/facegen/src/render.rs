//! Rendering: sampling every random choice of a face ([`FaceParams`]) from a seed and
//! an index, then drawing it and deriving its ground truth.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::action_unit::FaceRegion;
use crate::degrade::{self, Buffer};
use crate::domain::{DomainConfig, LabelKind, Range};
use crate::draw::{self, Canvas};
use crate::emotion::Emotion;
use crate::error::{FacegenError, Result};
use crate::expression::{self, Activation, AuSequence};
use crate::geometry::{Layout, Placement};
use crate::identity::{Identity, Rgb};
use crate::sample::{
    FaceImage, FaceSample, FaceTruth, Landmarks, PixelBox, Point, Pose, RegionBoxes,
    SequencePosition,
};

/// Method that hides an occluded region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OcclusionKind {
    /// An object drawn over the region (sunglasses, a hand, a scarf, a hat brim).
    Object { tint: Rgb },
    /// Pixelation and strong noise inside the region box.
    Corruption,
}

/// A hidden region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Occlusion {
    pub region: FaceRegion,
    pub kind: OcclusionKind,
}

/// Every random choice behind one image. [`sample_params`] draws them; tests and tools
/// may edit them (for example set `activation`) before [`render_params`].
#[derive(Debug, Clone)]
pub struct FaceParams {
    pub index: u64,
    pub identity: Identity,
    pub activation: Activation,
    /// Label after label noise.
    pub emotion: Option<Emotion>,
    /// Emotion whose prototype was sampled.
    pub expressed_emotion: Option<Emotion>,
    pub pose: Pose,
    pub placement: Placement,
    pub occlusion: Option<Occlusion>,
    pub blur_sigma: f32,
    pub noise_sigma: f32,
    pub brightness: f32,
    pub light_gradient: f32,
    /// Direction of the light gradient in radians.
    pub light_angle: f32,
    pub sequence: Option<SequencePosition>,
    /// Seed of the background and its clutter; shared by the frames of one subject.
    pub background_seed: u64,
    /// Seed of the pixel noise and local corruption.
    pub texture_seed: u64,
}

/// Stream-separated generator: image `index` of `seed` never shares random numbers with
/// another index.
fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

fn uniform(rng: &mut impl Rng, range: Range) -> f32 {
    if range.max > range.min {
        rng.random_range(range.min..=range.max)
    } else {
        range.min
    }
}

fn symmetric(rng: &mut impl Rng, max_abs: f32) -> f32 {
    if max_abs > 0.0 {
        rng.random_range(-max_abs..=max_abs)
    } else {
        0.0
    }
}

/// Draws a class with probability proportional to `weights`.
fn weighted_emotion(rng: &mut impl Rng, weights: [f32; 8]) -> Emotion {
    let total: f32 = weights.iter().sum();
    let mut target = rng.random_range(0.0..total);
    for (i, w) in weights.iter().enumerate() {
        if target < *w {
            return Emotion::ALL[i];
        }
        target -= w;
    }
    // Rounding can leave `target` just above the last cumulative weight.
    let last = weights.iter().rposition(|w| *w > 0.0).unwrap_or(0);
    Emotion::ALL[last]
}

/// Places the face: scale from `face_scale`, centre jittered around the image centre, and
/// both reduced where the face box would leave the image.
fn place(
    config: &DomainConfig,
    identity: &Identity,
    layout: &Layout,
    roll: f32,
    rng: &mut impl Rng,
) -> Placement {
    let (w, h) = (config.width as f32, config.height as f32);
    let face_width_px = uniform(rng, config.face_scale) * w;
    let jitter_x = symmetric(rng, config.center_jitter) * w;
    let jitter_y = symmetric(rng, config.center_jitter) * h;

    let mut placement = Placement {
        scale: face_width_px / identity.face_width,
        roll,
        center: Point { x: 0.0, y: 0.0 },
    };
    let points = layout.face_points();
    let box_at = |p: &Placement| PixelBox::around(points.iter().map(|q| p.to_pixel(*q)));

    // Shrink until the face box fits with a one-pixel margin.
    let b = box_at(&placement);
    let fit = ((w - 2.0) / b.width()).min((h - 2.0) / b.height());
    if fit < 1.0 {
        placement.scale *= fit;
    }

    // Centre the face box on the jittered image centre, then shift it back inside.
    let b = box_at(&placement);
    let mut dx = 0.5 * w + jitter_x - 0.5 * (b.x_min + b.x_max);
    let mut dy = 0.5 * h + jitter_y - 0.5 * (b.y_min + b.y_max);
    dx = dx.clamp(1.0 - b.x_min, w - 1.0 - b.x_max);
    dy = dy.clamp(1.0 - b.y_min, h - 1.0 - b.y_max);
    placement.center = Point { x: dx, y: dy };
    placement
}

/// Samples every random choice for image `index` of `seed` in `config`.
///
/// # Errors
/// [`FacegenError::InvalidConfig`] when `config` fails [`DomainConfig::validate`].
pub fn sample_params(config: &DomainConfig, seed: u64, index: u64) -> Result<FaceParams> {
    config.validate()?;
    let mut rng = stream_rng(seed, index);

    // Identity and expression; video-like domains share the identity across a subject's
    // frames and move the AUs smoothly.
    let (identity, activation, emotion, expressed_emotion, sequence, subject_rng) =
        match config.labels {
            LabelKind::Emotion => {
                let identity = Identity::sample(&mut rng);
                let expressed = weighted_emotion(&mut rng, config.emotion_weights.to_array());
                let scale = uniform(&mut rng, config.expression_intensity);
                let activation = expression::sample_prototype(expressed, scale, &mut rng);
                let label = if rng.random::<f32>() < config.label_noise_rate {
                    let others: Vec<Emotion> = Emotion::ALL
                        .into_iter()
                        .filter(|e| *e != expressed)
                        .collect();
                    others[rng.random_range(0..others.len())]
                } else {
                    expressed
                };
                (
                    identity,
                    activation,
                    Some(label),
                    Some(expressed),
                    None,
                    None,
                )
            }
            LabelKind::ActionUnits => {
                let frames = u64::from(config.frames_per_subject);
                let position = SequencePosition {
                    subject: index / frames,
                    frame: index % frames,
                };
                // A separate seed space keeps subject streams apart from image streams.
                let mut subject_rng = stream_rng(seed ^ 0x5EED_5B1E_C700_0000, position.subject);
                let identity = Identity::sample(&mut subject_rng);
                let sequence = AuSequence::sample(&mut subject_rng);
                let activation = sequence.at(position.frame);
                (
                    identity,
                    activation,
                    None,
                    None,
                    Some(position),
                    Some(subject_rng),
                )
            }
        };

    // Pose and placement: fixed per subject in video-like domains, with a small per-frame
    // roll tremor.
    let mut pose_rng = subject_rng.unwrap_or_else(|| rng.clone());
    let background_seed: u64 = pose_rng.random();
    let yaw_degrees = symmetric(&mut pose_rng, config.max_yaw_degrees);
    let mut roll_degrees = symmetric(&mut pose_rng, config.max_roll_degrees);
    if sequence.is_some() {
        roll_degrees += symmetric(&mut rng, 1.0);
    }
    let pose = Pose {
        roll_degrees,
        yaw_degrees,
    };
    let layout = Layout::new(&identity, &activation, yaw_degrees / 30.0);
    let placement = place(
        config,
        &identity,
        &layout,
        roll_degrees.to_radians(),
        &mut pose_rng,
    );
    if sequence.is_none() {
        rng = pose_rng;
    }

    let occlusion = if rng.random::<f32>() < config.occlusion_rate {
        let region = FaceRegion::ALL[rng.random_range(0..FaceRegion::ALL.len())];
        let kind = if rng.random::<bool>() {
            OcclusionKind::Corruption
        } else {
            OcclusionKind::Object {
                tint: [rng.random(), rng.random(), rng.random()],
            }
        };
        Some(Occlusion { region, kind })
    } else {
        None
    };

    Ok(FaceParams {
        index,
        identity,
        activation,
        emotion,
        expressed_emotion,
        pose,
        placement,
        occlusion,
        blur_sigma: uniform(&mut rng, config.blur_sigma),
        noise_sigma: uniform(&mut rng, config.noise_sigma),
        brightness: uniform(&mut rng, config.brightness),
        light_gradient: rng.random_range(0.0..=config.max_light_gradient),
        light_angle: rng.random_range(0.0..std::f32::consts::TAU),
        sequence,
        background_seed,
        texture_seed: rng.random(),
    })
}

/// Ground truth of `params` without drawing anything.
pub fn truth_of(config: &DomainConfig, params: &FaceParams) -> FaceTruth {
    let layout = Layout::new(
        &params.identity,
        &params.activation,
        params.pose.yaw_degrees / 30.0,
    );
    let p = &params.placement;
    let (w, h) = (config.width, config.height);
    let region = |r: FaceRegion| {
        let (x0, y0, x1, y1) = layout.region_rect(r);
        p.box_around(x0, y0, x1, y1).clipped(w, h)
    };
    let face_box =
        PixelBox::around(layout.face_points().into_iter().map(|q| p.to_pixel(q))).clipped(w, h);
    FaceTruth {
        emotion: params.emotion,
        expressed_emotion: params.expressed_emotion,
        action_units: params.activation.to_labels(),
        face_box,
        landmarks: Landmarks {
            left_eye: p.to_pixel(layout.eyes[0].center),
            right_eye: p.to_pixel(layout.eyes[1].center),
            nose_tip: p.to_pixel(layout.nose_tip),
            mouth_left: p.to_pixel(layout.mouth.corners[0]),
            mouth_right: p.to_pixel(layout.mouth.corners[1]),
            mouth_center: p.to_pixel(layout.mouth.center()),
        },
        regions: RegionBoxes {
            forehead_eyebrow: region(FaceRegion::ForeheadEyebrow),
            eye_periorbital: region(FaceRegion::EyePeriorbital),
            nose: region(FaceRegion::Nose),
            mouth_chin: region(FaceRegion::MouthChin),
        },
        pose: params.pose,
        occluded_region: params.occlusion.map(|o| o.region),
        sequence: params.sequence,
    }
}

/// Draws `params` and returns the image with its ground truth.
///
/// # Errors
/// [`FacegenError::InvalidConfig`] when `config` fails [`DomainConfig::validate`].
pub fn render_params(config: &DomainConfig, params: &FaceParams) -> Result<FaceSample> {
    config.validate()?;
    let truth = truth_of(config, params);
    let id = &params.identity;
    let a = &params.activation;
    let layout = Layout::new(id, a, params.pose.yaw_degrees / 30.0);
    let mut background_rng = ChaCha8Rng::seed_from_u64(params.background_seed);
    let mut rng = ChaCha8Rng::seed_from_u64(params.texture_seed);

    // Draw the scene.
    let mut canvas =
        Canvas::new(config.width, config.height, &params.placement).ok_or_else(|| {
            FacegenError::InvalidConfig {
                field: "width",
                value: format!("{}x{}", config.width, config.height),
                reason: "the image could not be allocated".to_string(),
            }
        })?;
    draw::draw_background(
        &mut canvas.pixmap,
        config.max_clutter_shapes,
        &mut background_rng,
    );
    draw::draw_head(&mut canvas, id, &layout);
    draw::draw_brows(&mut canvas, id, &layout, a);
    draw::draw_eyes(&mut canvas, id, &layout, a);
    draw::draw_nose(&mut canvas, id, &layout, a);
    draw::draw_mouth(&mut canvas, id, &layout, a);
    if let Some(Occlusion {
        region,
        kind: OcclusionKind::Object { tint },
    }) = params.occlusion
    {
        draw::draw_occluder(&mut canvas, &layout, region, tint);
    }

    // Degrade it as a camera would.
    let mut buffer = Buffer::from_pixmap(&canvas.pixmap);
    degrade::illuminate(
        &mut buffer,
        params.brightness,
        params.light_gradient,
        params.light_angle,
    );
    if let Some(Occlusion {
        region,
        kind: OcclusionKind::Corruption,
    }) = params.occlusion
    {
        degrade::corrupt_region(&mut buffer, truth.regions.get(region), &mut rng);
    }
    degrade::blur(&mut buffer, params.blur_sigma);
    if config.grayscale {
        degrade::to_grayscale(&mut buffer);
    }
    degrade::add_noise(&mut buffer, params.noise_sigma, &mut rng);

    Ok(FaceSample {
        index: params.index,
        image: FaceImage {
            width: config.width,
            height: config.height,
            channels: buffer.channels as u8,
            pixels: buffer.to_bytes(),
        },
        truth,
    })
}

/// Renders image `index` of the split generated from `seed`. The same `(config, seed,
/// index)` always gives the same pixels and truth.
///
/// # Errors
/// [`FacegenError::InvalidConfig`] when `config` fails [`DomainConfig::validate`].
pub fn render(config: &DomainConfig, seed: u64, index: u64) -> Result<FaceSample> {
    let params = sample_params(config, seed, index)?;
    render_params(config, &params)
}

/// Renders images `0..n` of the split generated from `seed`.
///
/// # Errors
/// [`FacegenError::InvalidConfig`] when `config` fails [`DomainConfig::validate`].
pub fn generate(config: &DomainConfig, seed: u64, n: u64) -> Result<Vec<FaceSample>> {
    config.validate()?;
    let samples = (0..n)
        .map(|index| render(config, seed, index))
        .collect::<Result<Vec<_>>>()?;
    tracing::debug!(
        count = n,
        seed,
        width = config.width,
        height = config.height,
        "rendered faces"
    );
    Ok(samples)
}
