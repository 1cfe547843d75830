/// The events of the complete Server-Sent Events frames at the start of `buffer` (each frame's
/// `data:` line, parsed as JSON), removed from it; a partial frame stays for the next chunk.
pub fn take_sse_events(buffer: &mut String) -> Vec<serde_json::Value> {
    let mut events = Vec::new();
    while let Some(end) = buffer.find("\n\n") {
        let frame: String = buffer.drain(..end + 2).collect();
        for line in frame.lines() {
            if let Some(data) = line.strip_prefix("data: ") {
                events.push(serde_json::from_str(data).expect("a JSON event"));
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_frames_give_their_events_and_a_partial_one_waits() {
        let mut buffer =
            "event: run_event\nid: 0\ndata: {\"kind\": \"started\"}\n\nid: 1\ndata: {\"ki"
                .to_owned();
        assert_eq!(
            take_sse_events(&mut buffer),
            vec![serde_json::json!({"kind": "started"})]
        );
        assert_eq!(buffer, "id: 1\ndata: {\"ki");
        buffer.push_str("nd\": \"token\"}\n\n");
        assert_eq!(
            take_sse_events(&mut buffer),
            vec![serde_json::json!({"kind": "token"})]
        );
        assert!(buffer.is_empty());
    }
}
