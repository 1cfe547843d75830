/// Retries a failed payment with exponential backoff.
pub fn retry_payment(attempts: u32) -> bool {
    let mut delay_ms = 100;
    for _ in 0..attempts {
        delay_ms *= 2;
    }
    delay_ms > 0 && attempts < 3
}
