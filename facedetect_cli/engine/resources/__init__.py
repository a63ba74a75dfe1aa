"""One module per kind of AWS resource. Each kind reads what exists, says what differs from
the desired settings, creates, updates and deletes; each declares what it depends on."""
