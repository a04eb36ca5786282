//! A tool built against `assay:tool@2.0.0`, which a 1.0.0 host must reject before it
//! instantiates the component.

wit_bindgen::generate!({
    world: "tool",
    path: "wit",
});

use exports::assay::tool::guest::{Description, Guest, Image, Observation};

struct WrongVersion;

impl Guest for WrongVersion {
    fn describe() -> Description {
        Description {
            name: "wrong_version".to_string(),
            version: "2.0.0".to_string(),
            parameters_schema: "{}".to_string(),
        }
    }

    fn invoke(_args: String, _image: Option<Image>) -> Result<Observation, String> {
        Ok(Observation {
            text: "a 2.0.0 tool ran".to_string(),
            images: Vec::new(),
        })
    }
}

export!(WrongVersion);
