def invoice_total(lines, tax_rate):
    """Sum the invoice lines and add tax."""
    return sum(lines) * (1 + tax_rate)
