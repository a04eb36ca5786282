mod cases;
mod common;
mod grpo;
mod learning;
mod model;
mod optim;
