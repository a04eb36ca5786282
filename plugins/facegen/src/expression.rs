//! Expressions as per-side Action Unit activations: EMFACS emotion prototypes with
//! natural variation, and smooth AU sequences for video-like domains.

use rand::Rng;

use crate::action_unit::{ActionUnit, AuIntensity, Side};
use crate::emotion::Emotion;

/// Intensity in `0.0..=1.0` of every Action Unit on each side of the face, indexed by the
/// position of the AU in [`ActionUnit::ALL`]. `left` and `right` are image sides.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Activation {
    pub left: [f32; 15],
    pub right: [f32; 15],
}

fn slot(au: ActionUnit) -> usize {
    ActionUnit::ALL
        .iter()
        .position(|a| *a == au)
        .expect("ActionUnit::ALL lists every variant")
}

impl Activation {
    /// No Action Unit active (a neutral face).
    pub fn neutral() -> Self {
        Self::default()
    }

    /// Sets `au` to `intensity` (clamped to `0.0..=1.0`) on `side`, and to 0 on the other
    /// side when `side` is unilateral.
    pub fn set(&mut self, au: ActionUnit, intensity: f32, side: Side) {
        let i = slot(au);
        let v = intensity.clamp(0.0, 1.0);
        let (l, r) = match side {
            Side::Both => (v, v),
            Side::ImageLeft => (v, 0.0),
            Side::ImageRight => (0.0, v),
        };
        self.left[i] = l;
        self.right[i] = r;
    }

    /// Builder form of [`Activation::set`].
    pub fn with(mut self, au: ActionUnit, intensity: f32, side: Side) -> Self {
        self.set(au, intensity, side);
        self
    }

    /// Intensity of `au` on image side `side_index` (0 = image left, 1 = image right).
    pub fn side(&self, au: ActionUnit, side_index: usize) -> f32 {
        let i = slot(au);
        if side_index == 0 {
            self.left[i]
        } else {
            self.right[i]
        }
    }

    /// Intensity of `au` on the stronger side.
    pub fn max(&self, au: ActionUnit) -> f32 {
        let i = slot(au);
        self.left[i].max(self.right[i])
    }

    /// Returns the active Action Units in FACS-number order. An AU active on one side
    /// only is reported with that side. An AU active on both sides is reported as `both`
    /// with the stronger side's intensity.
    pub fn to_labels(&self) -> Vec<AuIntensity> {
        ActionUnit::ALL
            .iter()
            .enumerate()
            .filter_map(|(i, &au)| {
                let (l, r) = (self.left[i], self.right[i]);
                let side = match (l > 0.0, r > 0.0) {
                    (false, false) => return None,
                    (true, false) => Side::ImageLeft,
                    (false, true) => Side::ImageRight,
                    (true, true) => Side::Both,
                };
                Some(AuIntensity {
                    au,
                    intensity: l.max(r),
                    side,
                })
            })
            .collect()
    }
}

/// One Action Unit of a prototype: its typical intensity and whether it always appears.
struct PrototypeAu {
    au: ActionUnit,
    intensity: f32,
    required: bool,
}

const fn core(au: ActionUnit, intensity: f32) -> PrototypeAu {
    PrototypeAu {
        au,
        intensity,
        required: true,
    }
}

const fn optional(au: ActionUnit, intensity: f32) -> PrototypeAu {
    PrototypeAu {
        au,
        intensity,
        required: false,
    }
}

/// Returns the EMFACS-style prototype of `emotion`, with its required and optional AUs.
/// The core combinations are happiness 6+12, sadness 1+4+15, surprise 1+2+5+26, fear
/// 1+2+4+5+7+20+26, disgust 9+15+17, anger 4+5+7+23 and contempt 12+14 on one side.
/// The renderer draws neither AU10 nor AU24, so disgust and anger use variants without
/// them.
fn prototype(emotion: Emotion) -> &'static [PrototypeAu] {
    match emotion {
        Emotion::Neutral => NEUTRAL,
        Emotion::Happiness => HAPPINESS,
        Emotion::Sadness => SADNESS,
        Emotion::Surprise => SURPRISE,
        Emotion::Fear => FEAR,
        Emotion::Disgust => DISGUST,
        Emotion::Anger => ANGER,
        Emotion::Contempt => CONTEMPT,
    }
}

const NEUTRAL: &[PrototypeAu] = &[];
const HAPPINESS: &[PrototypeAu] = &[
    core(ActionUnit::Au6, 0.7),
    core(ActionUnit::Au12, 0.9),
    optional(ActionUnit::Au25, 0.5),
];
const SADNESS: &[PrototypeAu] = &[
    core(ActionUnit::Au1, 0.8),
    core(ActionUnit::Au4, 0.55),
    core(ActionUnit::Au15, 0.8),
    optional(ActionUnit::Au17, 0.5),
];
const SURPRISE: &[PrototypeAu] = &[
    core(ActionUnit::Au1, 0.9),
    core(ActionUnit::Au2, 0.9),
    core(ActionUnit::Au5, 0.6),
    core(ActionUnit::Au26, 0.8),
    optional(ActionUnit::Au25, 0.8),
];
const FEAR: &[PrototypeAu] = &[
    core(ActionUnit::Au1, 0.9),
    core(ActionUnit::Au2, 0.7),
    core(ActionUnit::Au4, 0.6),
    core(ActionUnit::Au5, 0.9),
    core(ActionUnit::Au7, 0.5),
    core(ActionUnit::Au20, 0.8),
    core(ActionUnit::Au25, 0.7),
    optional(ActionUnit::Au26, 0.6),
];
const DISGUST: &[PrototypeAu] = &[
    core(ActionUnit::Au9, 0.9),
    core(ActionUnit::Au15, 0.6),
    core(ActionUnit::Au17, 0.6),
    optional(ActionUnit::Au4, 0.4),
    optional(ActionUnit::Au25, 0.4),
];
const ANGER: &[PrototypeAu] = &[
    core(ActionUnit::Au4, 0.9),
    core(ActionUnit::Au5, 0.55),
    core(ActionUnit::Au7, 0.8),
    core(ActionUnit::Au23, 0.8),
    optional(ActionUnit::Au17, 0.5),
];
const CONTEMPT: &[PrototypeAu] = &[core(ActionUnit::Au12, 0.6), core(ActionUnit::Au14, 0.8)];

/// Returns the required Action Units of `emotion`'s prototype at their typical
/// intensities, in FACS-number order: an AU annotation for images whose dataset labels
/// only the emotion. Contempt's units are marked `both` sides, because a real image does
/// not say which side acts.
pub fn prototype_action_units(emotion: Emotion) -> Vec<AuIntensity> {
    let mut units: Vec<AuIntensity> = prototype(emotion)
        .iter()
        .filter(|a| a.required)
        .map(|a| AuIntensity { au: a.au, intensity: a.intensity, side: Side::Both })
        .collect();
    units.sort_by_key(|a| a.au.number());
    units
}

/// Probability that an optional prototype AU appears.
const OPTIONAL_RATE: f32 = 0.45;
/// Probability that one required AU of a prototype with at least three is left out,
/// as real posers do.
const DROP_RATE: f32 = 0.08;
/// Probability that a neutral face carries one trace-level AU.
const NEUTRAL_TRACE_RATE: f32 = 0.3;

/// Samples an expression of `emotion` whose intensities are the prototype's scaled by
/// `scale` in `0.0..=1.0`, each jittered by a factor in `0.75..1.15`.
pub fn sample_prototype(emotion: Emotion, scale: f32, rng: &mut impl Rng) -> Activation {
    let mut activation = Activation::neutral();
    let aus = prototype(emotion);

    // Pick the AU that a poser leaves out, if any.
    let required = aus.iter().filter(|a| a.required).count();
    let dropped = if required >= 3 && rng.random::<f32>() < DROP_RATE {
        Some(rng.random_range(0..required))
    } else {
        None
    };

    // Contempt acts on one side of the face only.
    let side = if emotion == Emotion::Contempt {
        if rng.random::<bool>() {
            Side::ImageLeft
        } else {
            Side::ImageRight
        }
    } else {
        Side::Both
    };

    let mut required_index = 0;
    for a in aus {
        let include = if a.required {
            let keep = dropped != Some(required_index);
            required_index += 1;
            keep
        } else {
            rng.random::<f32>() < OPTIONAL_RATE
        };
        if include {
            let jitter = rng.random_range(0.75..1.15);
            activation.set(a.au, a.intensity * jitter * scale, side);
        }
    }

    if emotion == Emotion::Neutral && rng.random::<f32>() < NEUTRAL_TRACE_RATE {
        let au = ActionUnit::ALL[rng.random_range(0..ActionUnit::ALL.len())];
        activation.set(au, rng.random_range(0.05..0.15), Side::Both);
    }
    activation
}

/// Smooth per-subject AU trajectories for video-like domains: each DISFA AU is either
/// idle or follows a rectified sinusoid with its own amplitude, period and phase, and
/// the usual co-activations (AU2 with AU1, AU6 with AU12, AU25 with AU26) are coupled.
#[derive(Debug, Clone)]
pub struct AuSequence {
    /// `(amplitude, period in frames, phase in radians)` per AU in [`ActionUnit::DISFA`].
    waves: [(f32, f32, f32); 8],
}

impl AuSequence {
    /// Samples one subject's trajectories.
    pub fn sample(rng: &mut impl Rng) -> Self {
        let mut waves = [(0.0, 1.0, 0.0); 8];
        for wave in waves.iter_mut() {
            let amplitude = if rng.random::<f32>() < 0.55 {
                rng.random_range(0.35..1.0)
            } else {
                0.0
            };
            *wave = (
                amplitude,
                rng.random_range(16.0..64.0),
                rng.random_range(0.0..std::f32::consts::TAU),
            );
        }

        // Couple AUs that usually fire together: (follower, leader) in DISFA order.
        for (follower, leader) in [(1, 0), (3, 5), (6, 7)] {
            if rng.random::<f32>() < 0.6 && waves[leader].0 > 0.0 {
                waves[follower] = (
                    waves[leader].0 * rng.random_range(0.7..1.0),
                    waves[leader].1,
                    waves[leader].2,
                );
            }
        }
        Self { waves }
    }

    /// Activation at frame `frame`; intensities below 0.05 are rounded to 0.
    pub fn at(&self, frame: u64) -> Activation {
        let mut activation = Activation::neutral();
        for (au, &(amplitude, period, phase)) in ActionUnit::DISFA.iter().zip(&self.waves) {
            let t = frame as f32 / period * std::f32::consts::TAU + phase;
            let v = amplitude * t.sin().max(0.0);
            if v >= 0.05 {
                activation.set(*au, v, Side::Both);
            }
        }
        activation
    }
}
