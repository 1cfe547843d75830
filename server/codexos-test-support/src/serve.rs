//! Where a `codexos serve` child listens.

use std::io::{BufRead, BufReader};
use std::process::Child;

/// The `HOST:PORT` a `codexos serve` child (spawned with piped stderr) says it listens on. Its
/// stderr is read on in the background from then on, so the server never blocks on a full pipe.
pub fn serve_address(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("codexos serve says where it listens")
            .expect("stderr line");
        if let Some((_, address)) = line.split_once(" on http://") {
            break address
                .split_whitespace()
                .next()
                .expect("address")
                .to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    address
}
