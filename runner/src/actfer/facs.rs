//! FACS vocabulary for synthesized reasoning: which region an Action Unit lives in, its
//! FACS name, and the tool's name for each region.

use assay_facegen::{ActionUnit, Emotion, FaceRegion};

/// Name of a region as the `zoom_in` tool accepts it (`mouth-chin`).
pub fn tool_region_name(region: FaceRegion) -> String {
    region.name().replace('_', "-")
}

/// Names a region for a sentence (`mouth chin`).
pub fn spoken_region_name(region: FaceRegion) -> String {
    region.name().replace('_', " ")
}

/// Describes Action Units for a sentence: `AU6 cheek raiser and AU12 lip corner puller`.
pub fn describe_units(units: &[ActionUnit]) -> String {
    let parts: Vec<String> = units.iter().map(|au| format!("{au} {}", au.facs_name())).collect();
    match parts.len() {
        0 => "no active action units".to_string(),
        1 => parts[0].clone(),
        _ => format!("{} and {}", parts[..parts.len() - 1].join(", "), parts[parts.len() - 1]),
    }
}

/// Sentence that ties Action Units to the emotion they imply under EMFACS.
pub fn implication(units: &[ActionUnit], emotion: Emotion) -> String {
    if units.is_empty() || emotion == Emotion::Neutral {
        return format!("The face shows {}, which implies {}.", describe_units(units), emotion.name());
    }
    format!("Together {} imply {}.", describe_units(units), emotion.name())
}

/// Regions that hold at least one of `units`, top to bottom, each with its units.
pub fn regions_of(units: &[ActionUnit]) -> Vec<(FaceRegion, Vec<ActionUnit>)> {
    FaceRegion::ALL
        .into_iter()
        .map(|region| (region, units.iter().copied().filter(|au| au.region() == region).collect::<Vec<_>>()))
        .filter(|(_, held)| !held.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_names_use_hyphens() {
        assert_eq!(tool_region_name(FaceRegion::MouthChin), "mouth-chin");
        assert_eq!(tool_region_name(FaceRegion::ForeheadEyebrow), "forehead-eyebrow");
    }

    #[test]
    fn describes_unit_lists() {
        assert_eq!(describe_units(&[]), "no active action units");
        assert_eq!(describe_units(&[ActionUnit::Au6]), "AU6 cheek raiser");
        assert_eq!(
            describe_units(&[ActionUnit::Au1, ActionUnit::Au2, ActionUnit::Au26]),
            "AU1 inner brow raiser, AU2 outer brow raiser and AU26 jaw drop"
        );
    }

    #[test]
    fn groups_units_by_region() {
        let regions = regions_of(&[ActionUnit::Au12, ActionUnit::Au6, ActionUnit::Au25]);
        assert_eq!(
            regions,
            vec![
                (FaceRegion::EyePeriorbital, vec![ActionUnit::Au6]),
                (FaceRegion::MouthChin, vec![ActionUnit::Au12, ActionUnit::Au25]),
            ]
        );
    }
}
