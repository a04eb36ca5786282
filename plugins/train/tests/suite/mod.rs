mod cases;
mod common;
mod learning;
mod model;
mod optim;
