"""Demo data for trying Homeroom out: `flask demo seed`."""
