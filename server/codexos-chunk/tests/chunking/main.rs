//! Chunker behaviour, one module per format, plus properties over generated inputs.

mod support;

mod c;
mod cpp;
mod csharp;
mod go;
mod grammar_folder;
mod java;
mod javascript;
mod limits;
mod markdown;
mod php;
mod properties;
mod python;
mod ruby;
mod rust;
mod structured;
mod typescript;
mod window;
