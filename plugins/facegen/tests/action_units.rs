//! Each Action Unit changes the pixels of its FACS region, and subtle ones show in a
//! zoomed region but fade in the downscaled global view.

use assay_facegen::render::{Occlusion, OcclusionKind};
use assay_facegen::{render_params, sample_params, ActionUnit, Activation, FaceRegion, Side};

use crate::common::{clean_config, downscale_luma, luma_diff, sum_inside};

/// Renders identity `index` neutral and with `au` at `intensity`, returning the luma
/// difference and the region box of `au`.
fn au_difference(
    index: u64,
    au: ActionUnit,
    intensity: f32,
) -> (Vec<f32>, assay_facegen::PixelBox) {
    let config = clean_config();
    let mut params = sample_params(&config, 21, index).unwrap();
    params.activation = Activation::neutral();
    let neutral = render_params(&config, &params).unwrap();
    params.activation = Activation::neutral().with(au, intensity, Side::Both);
    let active = render_params(&config, &params).unwrap();
    let region = active.truth.regions.get(au.region());
    (luma_diff(&neutral.image, &active.image), region)
}

#[test]
fn every_au_changes_its_region() {
    let width = clean_config().width;
    for au in ActionUnit::ALL {
        for index in 0..4 {
            let (diff, region) = au_difference(index, au, 1.0);
            let total: f32 = diff.iter().sum();
            let inside = sum_inside(&diff, width, &region);
            assert!(
                total > 300.0,
                "{au} on identity {index}: total luma change only {total}"
            );
            let share = inside / total;
            assert!(
                share >= 0.8,
                "{au} on identity {index}: only {share:.2} of the change lies in {:?}",
                au.region()
            );

            // Per pixel, the change inside the region dwarfs the change outside it.
            let image_area = (width * width) as f32;
            let density_inside = inside / region.area();
            let density_outside = (total - inside) / (image_area - region.area());
            assert!(
                density_inside > 10.0 * density_outside,
                "{au} on identity {index}: inside {density_inside}, outside {density_outside}"
            );
        }
    }
}

#[test]
fn au_change_grows_with_intensity() {
    for au in ActionUnit::ALL {
        let weak: f32 = au_difference(1, au, 0.3).0.iter().sum();
        let strong: f32 = au_difference(1, au, 1.0).0.iter().sum();
        assert!(
            strong > weak,
            "{au}: intensity 1.0 changes {strong}, 0.3 changes {weak}"
        );
    }
}

#[test]
fn subtle_au_shows_in_zoom_not_global_view() {
    let mut config = clean_config();
    config.width = 128;
    config.height = 128;
    for au in [
        ActionUnit::Au14,
        ActionUnit::Au6,
        ActionUnit::Au9,
        ActionUnit::Au17,
    ] {
        let mut params = sample_params(&config, 5, 2).unwrap();
        params.activation = Activation::neutral();
        let neutral = render_params(&config, &params).unwrap();
        params.activation = Activation::neutral().with(au, 0.3, Side::Both);
        let active = render_params(&config, &params).unwrap();

        // Largest change seen at full resolution inside the region (the zoom) and in
        // the whole image downscaled 4x (a 32x32 global view).
        let diff = luma_diff(&neutral.image, &active.image);
        let region = active.truth.regions.get(au.region());
        let zoom_peak = diff
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                region.contains(assay_facegen::Point {
                    x: (*i as u32 % 128) as f32 + 0.5,
                    y: (*i as u32 / 128) as f32 + 0.5,
                })
            })
            .map(|(_, d)| *d)
            .fold(0.0, f32::max);
        let global_peak = downscale_luma(&neutral.image, 4)
            .iter()
            .zip(downscale_luma(&active.image, 4))
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            zoom_peak > 4.0,
            "{au}: peak zoomed change {zoom_peak} is invisible"
        );
        assert!(
            zoom_peak > 1.8 * global_peak,
            "{au}: zoom peak {zoom_peak}, global peak {global_peak}"
        );
    }
}

#[test]
fn occlusion_hides_the_region() {
    let config = clean_config();
    let width = config.width;
    let cases = [
        (ActionUnit::Au12, FaceRegion::MouthChin),
        (ActionUnit::Au4, FaceRegion::ForeheadEyebrow),
        (ActionUnit::Au7, FaceRegion::EyePeriorbital),
    ];
    for (au, region) in cases {
        for kind in [
            OcclusionKind::Object {
                tint: [0.4, 0.3, 0.3],
            },
            OcclusionKind::Corruption,
        ] {
            let mut params = sample_params(&config, 13, 0).unwrap();
            let render_pair = |params: &mut assay_facegen::FaceParams| {
                params.activation = Activation::neutral();
                let off = render_params(&config, params).unwrap();
                params.activation = Activation::neutral().with(au, 1.0, Side::Both);
                let on = render_params(&config, params).unwrap();
                let diff = luma_diff(&off.image, &on.image);
                sum_inside(&diff, width, &on.truth.regions.get(region))
            };
            params.occlusion = None;
            let visible = render_pair(&mut params);
            params.occlusion = Some(Occlusion { region, kind });
            let hidden = render_pair(&mut params);
            assert!(
                hidden < 0.5 * visible,
                "{au} under {kind:?}: change {hidden} vs {visible} unoccluded"
            );
        }
    }
}
