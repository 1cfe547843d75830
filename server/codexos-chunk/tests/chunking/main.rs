//! Chunker behaviour, one module per format, plus properties over generated inputs.

mod support;

mod grammar_folder;
mod limits;
mod markdown;
mod properties;
mod python;
mod rust;
mod structured;
mod window;
