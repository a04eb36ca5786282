//! Integration tests of the face renderer, the split writer and the dataset loaders,
//! compiled into one test binary.

mod action_units;
mod common;
mod loaders;
mod rendering;
mod split;
