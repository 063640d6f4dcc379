"""What every step shares and no paper defines: one error type, atomic writes, output folders and their locks,
the device, third-party quirks, worker processes."""
